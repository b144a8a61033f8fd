"""Update rules, optimizer classes (torch.optim semantics) and the Solver.
Knows models only by their contract (params, loss)."""

from .checkpoint import load_checkpoint, save_checkpoint
from .history import history_dict, load_history, save_history
from .optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
from .rules import adam, adamw, nesterov_momentum, rmsprop, sgd, sgd_momentum
from .schedules import cosine, step_decay
from .solver import Solver, TrainingDivergedError

__all__ = [
    "sgd", "sgd_momentum", "nesterov_momentum", "rmsprop", "adam", "adamw",
    "step_decay", "cosine",
    "Solver", "TrainingDivergedError",
    "save_checkpoint", "load_checkpoint",
    "history_dict", "save_history", "load_history",
    "Optimizer", "SGD", "RMSprop", "Adam", "AdamW",
]
