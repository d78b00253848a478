"""The image recognition page: classify, detect, train your own classifier, search similar images.

Thin: every handler calls ``ImageRecognizer`` (api.py) and turns its results into
components; errors follow the page toolkit's policy (``apps.ui_kit.page_errors``).
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from apps.ui_kit import (
    bars_figure,
    confusion_figure,
    curves_figure,
    image_recognizer,
    page_errors,
    progress_callback,
    tr,
    tr_frame,
    tr_text,
)
from core.errors import InvalidInputError

from .api import IMAGENET_CHOICE, ImageRecognizer
from .datasets import FASHION_MNIST, fashion_mnist_available
from .examples import example_photos, fashion_mnist_examples
from .figures import draw_detections

TITLE = "Vision"
DESCRIPTION = (
    "Classify and detect objects in photos, train a classifier on your own labelled images, "
    "and find similar images."
)

SOURCES = ("Fashion-MNIST demo set", "Upload a zip of class_name/image.jpg")
METHOD_CHOICES = [
    ("auto (CNN for Fashion-MNIST, head for photos)", "auto"),
    ("head on frozen EfficientNet-Lite0 features (photos)", "head"),
    ("small CNN from scratch (28x28 greyscale)", "cnn"),
]


def recognizer() -> ImageRecognizer:
    """The page's ``ImageRecognizer`` (one per process, shared with the home page)."""
    return image_recognizer()


def _paths(files: list | None) -> list[str]:
    return [f if isinstance(f, str) else f.name for f in (files or [])]


# --------------------------------------------------------------------------- classify
@page_errors
def classify(image: str | None, top_k: int, model: str):
    if image is None:
        raise InvalidInputError("Upload an image first (or click an example).")
    preds = recognizer().classify(image, top_k=int(top_k), model=model)
    table = pd.DataFrame({"label": [p.label for p in preds], "probability": [round(p.score, 4) for p in preds]})
    bars = bars_figure([p.label for p in preds], [p.score for p in preds], xlabel=tr("probability"), percent=True)
    return bars, tr_frame(table, cells=False)


@page_errors
def explain(image: str | None, top_k: int, model: str, show: bool):
    """The Grad-CAM overlay next to the labels when the toggle is on; hidden when it is off."""
    if not show or image is None:
        return gr.update(visible=False, value=None)
    seen = recognizer().explain(image, model=model, top_k=int(top_k))
    label = tr("What the model looked at for '{label}' ({score:.0%})", label=seen.label, score=seen.score)
    return gr.update(visible=True, value=seen.overlay, label=label)


@page_errors
def classify_many(files: list | None, top_k: int, model: str):
    paths = _paths(files)
    if not paths:
        raise InvalidInputError("Upload one or more images.")
    items = recognizer().classify_batch(paths, top_k=int(top_k), model=model)
    rows = []
    for path, item in zip(paths, items, strict=True):
        top = ", ".join(f"{p.label} {p.score:.0%}" for p in item.result) if item.result else ""
        rows.append({"file": Path(path).name, "top predictions": top, "error": item.error or ""})
    bad = sum(1 for it in items if it.error)
    if bad:
        gr.Warning(tr("{bad} of {n} files could not be read (see the error column).", bad=bad, n=len(items)))
    return tr_frame(pd.DataFrame(rows))


@page_errors
def refresh_models(current: str | None):
    choices = recognizer().classifier_choices()
    values = [v for _, v in choices]
    return gr.update(choices=choices, value=current if current in values else IMAGENET_CHOICE)


# --------------------------------------------------------------------------- detect
def _detections_table(found, file: str | None = None) -> pd.DataFrame:
    rows = [
        {**({"file": file} if file else {}), "label": d.label, "score": round(d.score, 3),
         "x0": round(d.box[0]), "y0": round(d.box[1]), "x1": round(d.box[2]), "y1": round(d.box[3])}
        for d in found
    ]
    return pd.DataFrame(rows, columns=[*(["file"] if file else []), "label", "score", "x0", "y0", "x1", "y1"])


@page_errors
def detect(image: str | None, threshold: float, iou: float):
    if image is None:
        raise InvalidInputError("Upload an image first (or click an example).")
    rec = recognizer()
    found = rec.detect(image, threshold=float(threshold), iou=float(iou))
    drawn = draw_detections(rec.upright(image), found)
    if not found:
        gr.Info(tr("No objects above the threshold; try a lower one."))
    return drawn, tr_frame(_detections_table(found), cells=False)


@page_errors
def detect_many(files: list | None, threshold: float, iou: float):
    paths = _paths(files)
    if not paths:
        raise InvalidInputError("Upload one or more images.")
    rec = recognizer()
    items = rec.detect_batch(paths, threshold=float(threshold), iou=float(iou))
    gallery, tables = [], []
    for path, item in zip(paths, items, strict=True):
        name = Path(path).name
        if item.error:
            gr.Warning(f"{name}: {tr_text(item.error)}")
            continue
        caption = tr("{name}: {count} objects", name=name, count=len(item.result))
        gallery.append((draw_detections(rec.upright(path), item.result), caption))
        tables.append(_detections_table(item.result, name))
    table = pd.concat(tables, ignore_index=True) if tables else _detections_table([], "-")
    return gallery, tr_frame(table, cells=False)


# --------------------------------------------------------------------------- train
@page_errors
def train(source: str, upload: str | None, method: str, epochs: int, fine_tune_epochs: int,
          limit: int, name: str, progress: gr.Progress = gr.Progress()):
    if source == SOURCES[0]:
        target = FASHION_MNIST
        if not fashion_mnist_available():
            raise InvalidInputError("Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist.")
    else:
        if not upload:
            raise InvalidInputError("Upload a zip file of class_name/image.jpg folders.")
        target = upload if isinstance(upload, str) else upload.name
    report = recognizer().train_classifier(
        target, int(epochs), method=method, fine_tune_epochs=int(fine_tune_epochs),
        name=(name or "").strip() or None, limit=int(limit) if limit else None,
        progress=progress_callback(progress),
    )
    for warning in report.warnings:
        gr.Warning(tr_text(warning))
    m = report.metrics
    summary = tr(
        "### Saved as `{name}` ({method})\n"
        "Held-out accuracy **{accuracy:.1%}**, macro-F1 **{macro_f1:.3f}** on {n_test:,} images "
        "never seen in training. Training took {seconds:.0f} s. "
        "Training images per class: {counts}.\n\nThe model is now selectable in the **Classify** tab.",
        name=report.name, method=report.method, accuracy=m.accuracy, macro_f1=m.macro_f1,
        n_test=m.n_test, seconds=report.train_seconds,
        counts=", ".join(f"{k} {v}" for k, v in report.counts.items()),
    )
    choices = recognizer().classifier_choices()
    return (
        summary,
        _curves(report.curve.to_dict()),
        confusion_figure(m.confusion, m.class_names, title="Held-out confusion matrix"),
        gr.update(choices=choices, value=report.model_id),
    )


def _curves(curve: dict):
    """Training loss, and train / held-out accuracy, per epoch."""
    epochs = curve.get("epoch", [])
    return curves_figure(
        {
            "training loss": {"loss": (epochs, curve.get("train_loss", []))},
            "accuracy": {
                "train": (epochs, curve.get("train_accuracy", [])),
                "held-out": (epochs, curve.get("heldout_accuracy", [])),
            },
        },
        ylims={"accuracy": (0, 1.02)},
    )


def source_changed(source: str):
    demo = source == SOURCES[0]
    return gr.update(visible=not demo), gr.update(value=10_000 if demo else 0)


# --------------------------------------------------------------------------- search
def _collection_note() -> str:
    n = len(recognizer().collection)
    return tr("The collection holds **{n:,}** images.", n=n) if n else tr("The collection is empty: add images.")


@page_errors
def add_images(files: list | None, progress: gr.Progress = gr.Progress()):
    paths = _paths(files)
    if not paths:
        raise InvalidInputError("Upload images to add to the collection.")
    _, skipped = recognizer().index_images(
        paths, [Path(p).name for p in paths], progress=progress_callback(progress)
    )
    for note in skipped:
        gr.Warning(tr_text(f"Skipped {note}"))
    return _collection_note()


@page_errors
def add_example_photos(progress: gr.Progress = gr.Progress()):
    photos = example_photos(recognizer().data_dir / "examples")
    return add_images([str(p) for p in photos.values()], progress)


@page_errors
def clear_collection():
    recognizer().clear_collection()
    return _collection_note(), []


@page_errors
def search(image: str | None, k: int):
    if image is None:
        raise InvalidInputError("Upload a query image first (or click an example).")
    hits = recognizer().similar(image, k=int(k))
    return [(str(h.path), tr("{name}  (similarity {score:.2f})", name=h.name, score=h.score)) for h in hits]


# --------------------------------------------------------------------------- page
def build_ui() -> gr.Blocks:
    """The page (built, not launched)."""
    rec = recognizer()
    photos = example_photos(rec.data_dir / "examples")
    fashion = [str(p) for p in fashion_mnist_examples(rec.data_dir / "examples")]
    photo = {k: str(v) for k, v in photos.items()}
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\n{DESCRIPTION} All models run on the shared core, on this machine.")
        with gr.Tab("Classify"):
            with gr.Row():
                with gr.Column():
                    c_image = gr.Image(type="filepath", image_mode=None, label="Image", height=320,
                                       elem_id="vision-classify-image")
                    c_model = gr.Dropdown(rec.classifier_choices(), value=IMAGENET_CHOICE,
                                          label="Model (ImageNet, or one you trained)")
                    c_refresh = gr.Button("Refresh model list", size="sm")
                    c_k = gr.Slider(1, 20, value=5, step=1, label="Top k")
                    c_explain = gr.Checkbox(False, label="Show what the model looked at",
                                            info="A Grad-CAM heatmap of the top label (about 1.5x the time)",
                                            elem_id="vision-explain-toggle")
                    c_btn = gr.Button("Classify", variant="primary", elem_id="vision-classify")
                with gr.Column():
                    c_plot = gr.Plot(label="Probabilities")
                    with gr.Row():
                        c_table = gr.Dataframe(label="Top predictions", interactive=False,
                                               elem_id="vision-classify-table")
                        c_overlay = gr.Image(label="What the model looked at", type="pil", format="png",
                                             height=260, visible=False, interactive=False,
                                             elem_id="vision-explain-overlay")
            gr.Examples([[photo["chelsea.png"]], [photo["coffee.png"]], [photo["rocket.png"]],
                         *([[f] for f in fashion[:2]])], [c_image], label="Examples (the last ones suit a Fashion-MNIST model)")
            with gr.Accordion("Several images at once (one batched call)", open=False):
                c_files = gr.File(file_count="multiple", file_types=["image"], label="Images")
                c_many_btn = gr.Button("Classify all")
                c_many = gr.Dataframe(label="Results", interactive=False, wrap=True)
                gr.Examples([[[photo["chelsea.png"], photo["coffee.png"], photo["rocket.png"], photo["astronaut.png"]]]],
                            [c_files], label="Example batch")
        with gr.Tab("Detect"):
            with gr.Row():
                with gr.Column():
                    d_image = gr.Image(type="filepath", image_mode=None, label="Image", height=320,
                                       elem_id="vision-detect-image")
                    d_thr = gr.Slider(0.05, 0.95, value=0.25, step=0.05, label="Score threshold")
                    d_iou = gr.Slider(0.1, 0.9, value=0.45, step=0.05, label="NMS overlap (IoU) limit")
                    d_btn = gr.Button("Detect", variant="primary", elem_id="vision-detect")
                with gr.Column():
                    d_out = gr.Image(label="Detections", type="pil", format="png")
                    d_table = gr.Dataframe(label="Objects (boxes in pixels)", interactive=False,
                                           elem_id="vision-detect-table")
            gr.Examples([[photo["motorcycle.png"]], [photo["astronaut.png"]], [photo["chelsea.png"]]], [d_image])
            with gr.Accordion("Several images at once (one batched call)", open=False):
                d_files = gr.File(file_count="multiple", file_types=["image"], label="Images")
                d_many_btn = gr.Button("Detect in all")
                d_gallery = gr.Gallery(label="Detections", columns=3, height=360)
                d_many = gr.Dataframe(label="Objects", interactive=False)
                gr.Examples([[[photo["motorcycle.png"], photo["astronaut.png"], photo["coffee.png"]]]],
                            [d_files], label="Example batch")
        with gr.Tab("Train"):
            gr.Markdown(
                "Train a classifier on your own labelled images: a zip of `class_name/image.jpg` "
                "folders (20% of each class is held out for testing), or the Fashion-MNIST demo set. "
                "Photos get a linear head on frozen EfficientNet-Lite0 features (seconds), optionally "
                "followed by fine-tuning the last blocks. Fashion-MNIST's 28x28 greyscale garments get "
                "a small CNN trained from scratch: ImageNet features of tiny greyscale images are weak, "
                "and the CNN reaches about 92-93% on the full set (see bench/RESULTS.md; ~10-20 min on "
                "2 CPU cores, about 2 min for 10,000 images)."
            )
            with gr.Row():
                with gr.Column():
                    t_source = gr.Radio(list(SOURCES), value=SOURCES[0], label="Training data")
                    t_zip = gr.File(file_types=[".zip"], label="Zip of class folders", visible=False)
                    t_method = gr.Radio(METHOD_CHOICES, value="auto", label="Method")
                    with gr.Row():
                        t_epochs = gr.Number(5, precision=0, minimum=1, maximum=200, label="Epochs")
                        t_ft = gr.Number(0, precision=0, minimum=0, maximum=200,
                                         label="Fine-tuning epochs (head method only)")
                    t_limit = gr.Number(10_000, precision=0, minimum=0, label="Max training images (0 = all)")
                    t_name = gr.Textbox(label="Model name (optional)", placeholder="e.g. defects-v1")
                    t_btn = gr.Button("Train", variant="primary")
                with gr.Column():
                    t_summary = gr.Markdown()
                    t_curve = gr.Plot(label="Loss and accuracy")
                    t_conf = gr.Plot(label="Confusion matrix (held-out)")
        with gr.Tab("Search"):
            gr.Markdown("Build a collection of images, then find the ones most similar to a query "
                        "(cosine similarity of EfficientNet-Lite0 embeddings in a FAISS index).")
            with gr.Row():
                with gr.Column():
                    s_files = gr.File(file_count="multiple", file_types=["image"], label="Images to add")
                    with gr.Row():
                        s_add = gr.Button("Add to collection")
                        s_examples = gr.Button("Add the example photos")
                        s_clear = gr.Button("Clear collection", variant="stop")
                    s_note = gr.Markdown(_collection_note())
                with gr.Column():
                    s_query = gr.Image(type="filepath", image_mode=None, label="Query image", height=280)
                    s_k = gr.Slider(1, 20, value=5, step=1, label="How many")
                    s_btn = gr.Button("Find similar", variant="primary")
            s_gallery = gr.Gallery(label="Most similar", columns=5, height=300)
            gr.Examples([[photo["chelsea.png"]], [photo["coffee.png"]], [photo["motorcycle.png"]]], [s_query],
                    label="Example photos")

        c_btn.click(classify, [c_image, c_k, c_model], [c_plot, c_table], api_name="vision_classify").success(
            explain, [c_image, c_k, c_model, c_explain], [c_overlay], api_name="vision_explain")
        c_explain.change(explain, [c_image, c_k, c_model, c_explain], [c_overlay], api_name=False)
        c_many_btn.click(classify_many, [c_files, c_k, c_model], [c_many], api_name="vision_classify_batch")
        c_refresh.click(refresh_models, [c_model], [c_model], api_name=False)
        d_btn.click(detect, [d_image, d_thr, d_iou], [d_out, d_table], api_name="vision_detect")
        d_many_btn.click(detect_many, [d_files, d_thr, d_iou], [d_gallery, d_many], api_name="vision_detect_batch")
        t_source.change(source_changed, [t_source], [t_zip, t_limit], api_name=False)
        t_btn.click(train, [t_source, t_zip, t_method, t_epochs, t_ft, t_limit, t_name],
                    [t_summary, t_curve, t_conf, c_model], api_name="vision_train")
        s_add.click(add_images, [s_files], [s_note], api_name="vision_add_images")
        s_examples.click(add_example_photos, None, [s_note], api_name=False)
        s_clear.click(clear_collection, None, [s_note, s_gallery], api_name="vision_clear_collection")
        s_btn.click(search, [s_query, s_k], [s_gallery], api_name="vision_search")
    return demo
