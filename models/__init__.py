"""fer_au's shipped model files, installed as the data package ``fer_au_models``
(as face_recognition ships face_recognition_models): ``fer_au.zoo.MODELS_DIR``
is this folder unless ``FER_AU_MODELS`` names another.  What each file is:
MODEL_CARD.md; their checksums: MANIFEST.sha256."""
