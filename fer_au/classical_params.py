"""The shipped classical model's hyper-parameters (chosen on PublicTest; see
models/MODEL_CARD.md), apart from :mod:`fer_au.classifiers` so that the CLI can show
them as defaults without importing scikit-learn (a second of start-up)."""

SHIPPED_PARAMS = dict(features="handcrafted", pca=300, gamma_scale=2.0, n_components=4000,
                      landmarks="kmeans", C=10.0, flip_test=False, shape_weight=4.0)
