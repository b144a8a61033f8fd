"""The check cells of the public CS231n notebooks, re-created against layerkit.

Each function of this package replays one notebook's check cells in order, exactly as the notebook
runs them (its inputs, its seeds, its hard-coded expected arrays, the bound it states in
a comment or in the text above the cell), with only the imports changed:
``from cs231n.layers import *`` -> ``from layers import *`` and so on. Nothing here comes
from layerkit's own output. The cells rely on numpy's global random state the way the
notebooks do (``np.random.seed(231)`` and then unseeded draws, also across cells), so a
notebook is replayed as one function, cell after cell.

Where the numbers come from (all public; the cells are the same in every year of the
range unless noted):

- FCN: ``assignment2/FullyConnectedNets.ipynb``, the 2018-2020 version (it still holds
  the layer, TwoLayerNet and update-rule cells); a completed copy exported to Markdown
  (Python 3.5 outputs). The FullyConnectedNet cell and its bounds also from the 2021
  notebook (AgainstEntropy/CS231n-assignment2021, assignment2/FullyConnectedNets.ipynb),
  which prints the same ``Initial loss:  2.3004790897684924`` for reg = 0.
- BN: ``assignment2/BatchNormalization.ipynb`` of 2019
  (0809zheng/CS231n-assignment2019, completed; batchnorm and FC-with-batchnorm cells) and
  the 2019 copy published by github.com/ctttt1119/cs231n (blog post of 2020-03-12;
  layernorm cells).
- DO: ``assignment2/Dropout.ipynb`` of 2019 (ctttt1119, 2020-03-13): the ``dropout=``
  keyword of 2018-2020.
- CNN: ``assignment2/ConvolutionalNetworks.ipynb`` of 2019 (ctttt1119, 2020-03-22),
  including the spatial batchnorm cell with ``gamma = np.asarray([3, 4, 5])``.
- RNN: ``assignment3/RNN_Captioning.ipynb``, the 2018-2020 version (seeded with 231; a
  completed copy exported to .py with the text translated; bounds as stated there).
- LSTM: ``assignment3/LSTM_Captioning.ipynb`` of 2019 (ctttt1119, 2020-04-03).

Reading of the stated bounds: "less than X" is ``< X``; "around X", "on the order of X
(or less)" and "between A~X" are ``< 10 X`` (the notebooks' own printed values sit at X,
not below it). A value the notebook prints from a seeded run (a loss, a mean) is compared
to the printed digits. Cells that need CIFAR-10 or COCO (training, overfitting, sampling,
the kitten/puppy image cell) are not replayed: nothing is downloaded.
"""

from ._harness import Check, Notebook, rel_error
from .conv import convolutional_networks
from .fc_nets import dropout, fully_connected_nets
from .normalization import batch_normalization
from .recurrent import lstm_captioning, rnn_captioning

__all__ = ["Check", "Notebook", "rel_error", "NOTEBOOKS", "fully_connected_nets",
           "batch_normalization", "dropout", "convolutional_networks", "rnn_captioning",
           "lstm_captioning"]

NOTEBOOKS = {
    "FullyConnectedNets": fully_connected_nets,
    "BatchNormalization": batch_normalization,
    "Dropout": dropout,
    "ConvolutionalNetworks": convolutional_networks,
    "RNN_Captioning": rnn_captioning,
    "LSTM_Captioning": lstm_captioning,
}
