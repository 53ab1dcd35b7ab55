"""Training code, apart from inference: the CNN (cnn), the AU emotion models (au) and the
classical comparison harness (classical). The commands in fer_au/commands/train_*.py call it."""
