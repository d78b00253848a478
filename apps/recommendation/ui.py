"""The recommendation page: data, train & evaluate, recommendations, similar items, cold start.

Thin: the work is done by ``Workspace`` (workspace.py) and ``Recommender`` (api.py).
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from apps.ui_kit import page_errors, progress_callback, tr, tr_frame, tr_text

from .columns import mapping_from_choices
from .experiment import PROTOCOLS
from .models import MODELS
from .plots import loss_figure, metrics_figure
from .workspace import RECOMMENDATION_COLUMNS, Workspace, recommendations_table

TITLE = "Recommendation"
DESCRIPTION = ("Train a recommender on who-bought-what, compare it with baselines, explain and serve recommendations, "
               "and ask why an item is not recommended.")

DATA_SOURCES = ("MovieLens-100k demo", "Upload my own files")
EXAMPLES_DIR = Path(__file__).parent / "examples"
DEFAULT_MODELS = ["popular", "itemknn", "ease", "bpr"]
MODEL_CHOICES = [(f"{cls.label} ({name})", name) for name, cls in MODELS.items()]


def _workspace(ws: Workspace | None) -> Workspace:
    return ws if ws is not None else Workspace()


def _parse_item(value: str | None) -> str:
    """Dropdown values are ids; typed text may be "Title [id]" or an id."""
    value = (value or "").strip()
    if value.endswith("]") and "[" in value:
        return value[value.rindex("[") + 1 : -1].strip()
    return value


# --------------------------------------------------------------------------- handlers
@page_errors
def read_columns(inter_file: str | None):
    """Fill the column-mapping dropdowns from the uploaded file's header, with guesses."""
    return tuple(gr.update(choices=c, value=v) for c, v in Workspace.column_choices(inter_file).values())


@page_errors
def load_data(source: str, inter_file: str | None, items_file: str | None, drop_dupes: bool, ws: Workspace | None,
              user_col: str | None = None, item_col: str | None = None, rating_col: str | None = None,
              time_col: str | None = None, event_col: str | None = None, weights: str | None = None):
    ws = _workspace(ws)
    if source == DATA_SOURCES[0]:
        summary = ws.load_demo()
    else:
        mapping = mapping_from_choices(user_col, item_col, rating_col, time_col, event_col, weights)
        summary = ws.load_files(inter_file, items_file, drop_dupes, mapping=mapping)
    columns = tr(" Columns: {columns}.", columns=summary["columns"]) if summary.get("columns") else ""
    if summary.get("text_encoder"):  # which encoder the hybrid model will read item text with
        columns += tr(" Item text is read by `{model}`.", model=summary["text_encoder"])
    text = tr(
        "**{source}**: {interactions:,} interactions, {users:,} users, "
        "{items:,} items (density {density:.2%}); "
        "ratings: {ratings}, timestamps: {timestamps}, "
        "items with metadata: {items_with_metadata:,}.{columns} Next: *Train & evaluate*.",
        ratings=tr_text("yes" if summary["has_rating"] else "no"),
        timestamps=tr_text("yes" if summary["has_timestamp"] else "no"),
        columns=columns,
        **{k: summary[k] for k in ("source", "interactions", "users", "items", "density", "items_with_metadata")},
    )
    users = ws.user_choices()
    items = ws.item_choices()
    return (
        ws,
        text,
        ws.interactions.head(20),
        gr.update(choices=users, value=users[0] if users else None),
        gr.update(choices=items, value=items[0][1] if items else None),
        gr.update(choices=items, value=[]),
        gr.update(choices=users, value=users[0] if users else None),
        gr.update(choices=items, value=None),
    )


@page_errors
def train(models: list[str], protocol_label: str, k: float, ws: Workspace | None, progress=gr.Progress()):
    ws = _workspace(ws)
    protocol = next((key for key, label in PROTOCOLS.items() if label == protocol_label), "random")
    report = progress_callback(progress)
    report(0.0, "splitting")
    table = ws.train(list(models or []), protocol, int(k), progress=report)
    best = ws.best_model()
    note = tr(
        "Best on NDCG@{k}: **{best}**, retrained on all interactions and now serving the tabs below. "
        "Protocol: {protocol}; full ranking over all items, training and validation items masked.",
        k=ws.k, best=best, protocol=tr_text(PROTOCOLS[protocol]),
    )
    return (
        ws,
        tr_frame(table, cells=False),
        metrics_figure(ws.metric_chart(), ws.k),
        loss_figure(ws.loss_curves()),
        note,
        gr.update(choices=ws.trained_models(), value=best),
    )


@page_errors
def recommend(user: str, k: float, model: str | None, ws: Workspace | None, progress=gr.Progress()):
    ws = _workspace(ws)
    rec = ws.serve(model or None, progress=progress_callback(progress))
    recs = rec.recommend(str(user or "").strip(), k=int(k), explain_text=True)
    return tr_frame(recommendations_table(recs)), tr_frame(ws.user_history(user), cells=False)


@page_errors
def similar(item: str, k: float, model: str | None, ws: Workspace | None, progress=gr.Progress()):
    ws = _workspace(ws)
    rec = ws.serve(model or None, progress=progress_callback(progress))
    return tr_frame(recommendations_table(rec.similar_items(_parse_item(item), k=int(k))))


@page_errors
def cold_start(liked: list[str], text: str, k: float, model: str | None, ws: Workspace | None, progress=gr.Progress()):
    ws = _workspace(ws)
    rec = ws.serve(model or None, progress=progress_callback(progress))
    items = [_parse_item(x) for x in (liked or [])]
    return tr_frame(recommendations_table(rec.recommend_for_new_user(items, text=text or None, k=int(k))))


@page_errors
def why_not(user: str, item: str, k: float, model: str | None, ws: Workspace | None, progress=gr.Progress()):
    ws = _workspace(ws)
    return ws.why_not(user, _parse_item(item), int(k), model or None, progress=progress_callback(progress),
                      translate=tr_text)


# --------------------------------------------------------------------------- layout
def build_ui() -> gr.Blocks:
    """The page (not launched here)."""
    empty = pd.DataFrame(columns=RECOMMENDATION_COLUMNS)
    with gr.Blocks(title=TITLE) as page:
        ws = gr.State(None)
        gr.Markdown(f"## {TITLE}\n{DESCRIPTION}")
        with gr.Tab("1. Data"):
            gr.Markdown(
                "Interactions need a user and an item column, optionally a rating and a time (CSV, TSV or Parquet); "
                "choose which is which under *Column mapping*. "
                "Item metadata (optional, needed by the hybrid model): an item id and any of title, text, tags "
                "(or name, description, genres...)."
            )
            source = gr.Radio(list(DATA_SOURCES), value=DATA_SOURCES[0], label="Data", elem_id="rec-source")
            with gr.Row():
                inter_file = gr.File(label="Interactions (CSV / Parquet)", file_types=[".csv", ".tsv", ".parquet"], type="filepath",
                                     elem_id="rec-inter-file")
                items_file = gr.File(label="Item metadata (optional)", file_types=[".csv", ".tsv", ".parquet"], type="filepath")
            with gr.Accordion("Column mapping", open=True):
                gr.Markdown(
                    "Guessed from the uploaded file's header (`userId`, `customer_id`, `product_id`, `sku`, "
                    "`event_time`...); change any before loading. A file without ratings works as it is. "
                    "An event log (view / cart / purchase) has no rating: choose its event column, and each "
                    "user's strongest event per item becomes one interaction weighted by it."
                )
                with gr.Row():
                    user_col = gr.Dropdown([], label="User", elem_id="rec-col-user")
                    item_col = gr.Dropdown([], label="Item", elem_id="rec-col-item")
                    rating_col = gr.Dropdown([], label="Rating", elem_id="rec-col-rating")
                    time_col = gr.Dropdown([], label="Time", elem_id="rec-col-time")
                    event_col = gr.Dropdown([], label="Event (implicit feedback)", elem_id="rec-col-event")
                weights = gr.Textbox(label="Event weights", placeholder="view=1, cart=2, purchase=3, remove_from_cart=0",
                                     info="Empty: these and common synonyms (pv, add_to_cart, buy, transaction...). "
                                          "0 drops an event, e.g. view=0 trains on carts and purchases only.")
            drop_dupes = gr.Checkbox(label="Drop exact duplicate rows instead of rejecting the file", value=False)
            gr.Examples(
                [
                    [DATA_SOURCES[0], None, None],
                    [DATA_SOURCES[1], str(EXAMPLES_DIR / "bookshop_interactions.csv"),
                     str(EXAMPLES_DIR / "bookshop_items.csv")],
                ],
                inputs=[source, inter_file, items_file],
                label="Examples: the MovieLens demo, or a tiny bookshop (40 readers, 12 books) as uploaded files",
            )
            load_btn = gr.Button("Load data", variant="primary", elem_id="rec-load")
            summary = gr.Markdown(elem_id="rec-summary")
            preview = gr.Dataframe(pd.DataFrame(columns=["user_id", "item_id", "rating", "timestamp"]),
                                   label="First rows", interactive=False)
        with gr.Tab("2. Train & evaluate"):
            with gr.Row():
                models = gr.CheckboxGroup(MODEL_CHOICES, value=DEFAULT_MODELS, label="Models to compare",
                                         elem_id="rec-models")
                protocol = gr.Radio(list(PROTOCOLS.values()), value=PROTOCOLS["random"], label="Evaluation protocol")
                k_eval = gr.Slider(5, 50, value=10, step=5, label="K")
            gr.Examples(
                [[DEFAULT_MODELS, PROTOCOLS["random"], 10], [["popular", "ease", "hybrid"], PROTOCOLS["temporal"], 10]],
                inputs=[models, protocol, k_eval],
            )
            train_btn = gr.Button("Train and evaluate", variant="primary", elem_id="rec-train")
            note = gr.Markdown(elem_id="rec-note")
            table = gr.Dataframe(label="Test metrics (same split for every model)", interactive=False)
            with gr.Row():
                chart = gr.Plot(label="Against the baselines")
                losses = gr.Plot(label="Training loss")
        with gr.Tab("3. Recommend for a user"):
            with gr.Row():
                user = gr.Dropdown([], label="User", allow_custom_value=True, elem_id="rec-user")
                serve_model = gr.Dropdown([], label="Model", info="Trained models; the best is chosen for you")
                k_user = gr.Slider(1, 50, value=10, step=1, label="How many")
            # Labels: a Dropdown example shows a choice's label, and these choices come only with the data.
            gr.Examples([["1"], ["196"], ["405"]], inputs=[user], label="Example users (MovieLens)",
                        example_labels=["1", "196", "405"])
            user_btn = gr.Button("Recommend", variant="primary", elem_id="rec-recommend")
            # Full width: the reasons and their strengths need the room.
            user_recs = gr.Dataframe(empty, label="Recommendations", interactive=False, elem_id="rec-user-recs",
                                     wrap=True)
            history = gr.Dataframe(label="Their latest items", interactive=False)
        with gr.Tab("4. Similar items"):
            with gr.Row():
                item = gr.Dropdown([], label="Item", allow_custom_value=True)
                k_item = gr.Slider(1, 50, value=10, step=1, label="How many")
            gr.Examples([["Star Wars (1977) [50]"], ["Toy Story (1995) [1]"], ["Fargo (1996) [100]"]], inputs=[item],
                        label="Example items (MovieLens)",
                        example_labels=["Star Wars (1977) [50]", "Toy Story (1995) [1]", "Fargo (1996) [100]"])
            item_btn = gr.Button("Find similar items", variant="primary", elem_id="rec-similar")
            item_recs = gr.Dataframe(empty, label="Similar items", interactive=False, elem_id="rec-item-recs")
        with gr.Tab("5. Cold start"):
            gr.Markdown("A new visitor: pick a few items they like, describe their taste, or both. "
                        "Descriptions need the hybrid model (it reads item text with the shared encoder).")
            with gr.Row():
                liked = gr.Dropdown([], multiselect=True, label="Liked items", allow_custom_value=True)
                description = gr.Textbox(label="Description (hybrid model)", placeholder="space adventure with robots")
                k_cold = gr.Slider(1, 50, value=10, step=1, label="How many")
            gr.Examples(
                [[["Star Wars (1977) [50]", "Return of the Jedi (1983) [181]"], ""], [[], "romantic comedy in New York"]],
                inputs=[liked, description],
                example_labels=["Star Wars (1977), Return of the Jedi (1983)", "romantic comedy in New York"],
            )
            cold_btn = gr.Button("Recommend for a new user", variant="primary")
            cold_recs = gr.Dataframe(empty, label="Recommendations", interactive=False)
        with gr.Tab("6. Why not?"):
            gr.Markdown("Why is an item not recommended to a user? Its rank among the items they have not seen, "
                        "its score against the top-k cut-off, and the items in their history closest to it.")
            with gr.Row():
                why_user = gr.Dropdown([], label="User", allow_custom_value=True, elem_id="rec-why-user")
                why_item = gr.Dropdown([], label="Item", allow_custom_value=True, elem_id="rec-why-item")
                k_why = gr.Slider(1, 50, value=10, step=1, label="Top-k cut-off", elem_id="rec-why-k")
            why_btn = gr.Button("Why not?", variant="primary", elem_id="rec-why")
            why_out = gr.HTML(elem_id="rec-why-result")

        mapping = [user_col, item_col, rating_col, time_col, event_col]
        inter_file.change(read_columns, [inter_file], mapping, api_name=False)
        load_btn.click(load_data, [source, inter_file, items_file, drop_dupes, ws, *mapping, weights],
                       [ws, summary, preview, user, item, liked, why_user, why_item],
                       api_name="recommendation_load_data")
        train_btn.click(train, [models, protocol, k_eval, ws], [ws, table, chart, losses, note, serve_model],
                        api_name="recommendation_train")
        user_btn.click(recommend, [user, k_user, serve_model, ws], [user_recs, history], api_name="recommendation_recommend")
        item_btn.click(similar, [item, k_item, serve_model, ws], [item_recs], api_name="recommendation_similar_items")
        cold_btn.click(cold_start, [liked, description, k_cold, serve_model, ws], [cold_recs],
                       api_name="recommendation_cold_start")
        why_btn.click(why_not, [why_user, why_item, k_why, serve_model, ws], [why_out], api_name="recommendation_why_not")
    return page
