"""Research and validation code, apart from inference: the AUs checked on FER2013 (aus) and
what the AU emotion models learned (au_models). bench/ and the notebooks call it."""
