"""Recommendation's explanations in a real browser: the strength of each reason next to
"Because you liked X", and the *Why not?* tab (rank, score against the cut-off, nearest
reasons) for the top item and for one far down the ranking."""

from __future__ import annotations

import re

from selenium.webdriver.common.by import By

from .browser import MODEL_TIMEOUT_S, Browser

LOW_ITEM = "Broken Arrow (1996) [546]"  # popular, unseen by user 1, far from their taste


# The text of every visible row's cells (Gradio's grid; its <table> only sizes the columns).
_ROWS_JS = """
return Array.from(document.getElementById(arguments[0]).querySelectorAll('[role=row]'))
  .map(r => Array.from(r.querySelectorAll('[role=gridcell]')).map(c => c.textContent.trim()))
  .filter(cells => cells.some(t => t));
"""


def _rank_one(browser: Browser, elem_id: str) -> list[str]:
    """The cells of the row ranked 1."""
    return next(row for row in browser.js(_ROWS_JS, elem_id) if row[0] == "1")


def test_reason_strengths_and_why_not(browser: Browser):
    browser.open("/recommendation", "Recommendation")
    browser.click("rec-load")
    browser.wait_for_text("rec-summary", r"100,000 interactions")

    browser.tab("2. Train & evaluate")
    for label in ("Popularity (popular)", "EASE (ease)", "BPR-MF (bpr)"):  # keep Item-kNN only: quick
        browser.click_text(label, "label")
    browser.click("rec-train")
    browser.wait_for_text("rec-note", r"Best on NDCG@10: itemknn", MODEL_TIMEOUT_S)

    browser.tab("3. Recommend for a user")
    browser.click("rec-recommend")
    table = browser.wait_for_text("rec-user-recs", r"% of score")
    assert "Because you liked" in table and "also because" in table, table
    top = _rank_one(browser, "rec-user-recs")
    assert top[4].startswith("Because you liked ") and re.fullmatch(r"[\d.]+% of score · similarity [\d.]+", top[5]), top
    top_item = f"{top[1]} [{top[2]}]"
    browser.screenshot("recommendation-reason-strengths")

    browser.tab("6. Why not?")
    assert browser.element("rec-why-user").find_element(By.CSS_SELECTOR, "input").get_property("value") == "1"
    browser.choose("rec-why-item", LOW_ITEM)
    browser.click("rec-why")
    low = browser.wait_for_text("rec-why-result", r"ranks [\d,]+ of [\d,]+ unseen items")
    rank = int(re.search(r"ranks ([\d,]+) of", low).group(1).replace(",", ""))
    assert rank > 10 and "is not in the top 10" in low and "below the cut-off" in low, low
    assert "Because they liked" in low and re.search(r"\d+(\.\d)?% of score", low), low
    bars = browser.element("rec-why-result").find_elements(By.CSS_SELECTOR, ".rec-why-reason div div")
    assert bars and all(b.size["width"] > 0 for b in bars)
    browser.screenshot("recommendation-why-not-low")

    browser.choose("rec-why-item", top_item)
    browser.click("rec-why")
    top_answer = browser.wait_for_text("rec-why-result", r"ranks 1 of")
    assert "is in the top 10" in top_answer and top[1] in top_answer, top_answer
    browser.screenshot("recommendation-why-not-top")
    browser.assert_no_console_errors()
