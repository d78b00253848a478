"""Simplified Chinese for the text the pages build at run time (see ``apps.ui_kit.language``).

Beside ``zh.py`` (the static labels, translated in the browser by Gradio), this table is used
on the server, so its values may hold ``{name}`` fields: a key is the English template a page
formats (``tr(key, **values)``) or the shape of a finished English sentence an app returns
(``tr_text``: the fields match any text, and a value that is itself in the table, such as
"default", is translated too). Keep each key exactly as the code writes it;
``tests/apps/test_i18n_runtime.py`` checks that every template the pages use is here.
"""

from __future__ import annotations

RUNTIME_ZH: dict[str, str] = {
    # ------------------------------------------------------------------ shared
    "Something went wrong on the server (error id {error_id}). It has been logged; please "
    "try again, and quote this id if it keeps happening.":
        "服务器出错了（错误编号 {error_id}）。错误已记录；请重试，若问题仍然出现，请提供此编号。",
    "yes": "是",
    "no": "否",
    "n/a": "无",
    "none": "无",
    # ------------------------------------------------------------------ customer service: chat
    "**Confidence** {confidence:.0%} · **intent** {intent} · **sentiment** {sentiment}":
        "**置信度** {confidence:.0%} · **意图** {intent} · **情绪** {sentiment}",
    "positive": "正面",
    "negative": "负面",
    "neutral": "中性",
    "angry": "愤怒",
    "🧑‍💼 **Escalated** to a person: ticket #{ticket}": "🧑‍💼 **已转人工**：工单 #{ticket}",
    "📄 Answer phrased by the language model from **{id}**: _{question}_":
        "📄 答案由语言模型根据 **{id}** 改写：_{question}_",
    "📄 Answer verbatim from **{id}**: _{question}_": "📄 答案原文来自 **{id}**：_{question}_",
    "| rank | entry | question |": "| 排名 | 条目 | 问题 |",
    "_Writing the answer…_": "_正在撰写答案…_",
    "Thanks for the feedback!": "感谢你的反馈！",
    "Thanks, we'll use this to improve the answer.": "谢谢，我们会据此改进答案。",
    "🧑‍💼 Ticket #{ticket} is open: a member of the team will take over this conversation.":
        "🧑‍💼 工单 #{ticket} 已创建：团队成员将接手这段对话。",
    # "Why this answer?"
    "(rank {rank})": "（第 {rank} 名）",
    "(not in this retriever's top 20)": "（不在该检索器的前 20 名内）",
    "✅ **Answered** from `{id}`: _{question}_": "✅ **已回答**，依据 `{id}`：_{question}_",
    "| evidence | value |": "| 依据 | 数值 |",
    "| best match | `{id}` |": "| 最佳匹配 | `{id}` |",
    "| dense score (cosine) | {dense:.3f}{rank} |": "| 语义得分（余弦） | {dense:.3f}{rank} |",
    "| lexical score (BM25) | {lexical:.2f}{rank}, {coverage:.0%} of the question's terms |":
        "| 词汇得分（BM25） | {lexical:.2f}{rank}，覆盖问题中 {coverage:.0%} 的词 |",
    "| calibrated confidence | **{confidence:.2f}** ({calibration} calibration) |":
        "| 校准后的置信度 | **{confidence:.2f}**（校准：{calibration}） |",
    "| threshold | **{threshold:.2f}** ({source}) |": "| 阈值 | **{threshold:.2f}**（{source}） |",
    "default": "默认",
    "set by hand": "手动设置",
    "generic (not calibrated yet)": "通用（尚未校准）",
    "this knowledge base's, for a question in another language": "本知识库的跨语言校准",
    "this knowledge base's": "本知识库",
    "**Intent, top 3:** {top}": "**意图，前 3 名：** {top}",
    "**Words that drove `{intent}`** (change in its probability when the word is left out): {words}":
        "**影响 `{intent}` 的词**（去掉该词后其概率的变化）：{words}",
    # the sentences of apps.customer_service.explain
    'Escalated: the customer asked for a person ("{phrase}").': "已转人工：客户要求人工服务（“{phrase}”）。",
    "Escalated: the intent model read the message as a request for a person ({intent}, {probability}).":
        "已转人工：意图模型判断这条消息是在要求人工服务（{intent}，{probability}）。",
    "Escalated: the customer accepted the offer to talk to a person.": "已转人工：客户接受了转人工的提议。",
    "Escalated: no entry in the knowledge base came close to the question.":
        "已转人工：知识库中没有与该问题相近的条目。",
    "Escalated: no entry shares a word with the question, and the closest in meaning, '{question}', "
    "had confidence {confidence}, below the threshold {threshold}.":
        "已转人工：没有条目与问题有相同的词；语义最接近的“{question}”置信度为 {confidence}，"
        "低于阈值 {threshold}。",
    "Escalated: the best match '{question}' had confidence {confidence}, below the threshold {threshold}.":
        "已转人工：最佳匹配“{question}”的置信度为 {confidence}，低于阈值 {threshold}。",
    "Answered as small talk: the words are a greeting or thanks, and no entry was confident "
    "enough ({confidence}, threshold {threshold}).":
        "按闲聊回答：这是问候或致谢，且没有足够可信的条目（{confidence}，阈值 {threshold}）。",
    "Offered a person: the message reads as angry (sentiment {score}).":
        "已提议转人工：这条消息读起来带有怒气（情绪 {score}）。",
    "Read as a follow-up: matched together with the previous question.":
        "视为追问：与上一个问题合并匹配。",
    # ------------------------------------------------------------------ customer service: knowledge base
    "Confidence threshold {threshold:.2f} ({how}). Import entries to calibrate.":
        "置信度阈值 {threshold:.2f}（{how}）。导入条目后即可校准。",
    "**Confidence calibrated on this knowledge base** ({positives} held-out questions, "
    "{negatives} off-topic and unanswerable ones; refitted after every import and edit). "
    "Expected: **{answer_rate:.0%}** of questions answered with the right entry, "
    "**{error_rate:.0%}** answered with a wrong one, "
    "**{off_topic_answered:.0%}** of off-topic questions answered. "
    "Threshold {threshold:.2f} ({how}); retrieval model `{embedding_model}`.":
        "**置信度已在本知识库上校准**（{positives} 个留出问题，{negatives} 个无关或无法回答的问题；"
        "每次导入和编辑后重新拟合）。预计：**{answer_rate:.0%}** 的问题以正确条目回答，"
        "**{error_rate:.0%}** 以错误条目回答，无关问题中 **{off_topic_answered:.0%}** 被回答。"
        "阈值 {threshold:.2f}（{how}）；检索模型 `{embedding_model}`。",
    "Imported into **{company}**'s knowledge base: {added} added, {updated} updated. "
    "The chat now answers from it.":
        "已导入 **{company}** 的知识库：新增 {added} 条，更新 {updated} 条。对话现在依据它回答。",
    "Confidence {confidence:.0%}: the bot would answer.": "置信度 {confidence:.0%}：机器人会回答。",
    "Confidence {confidence:.0%}: the bot would escalate.": "置信度 {confidence:.0%}：机器人会转人工。",
    "Added {id}.": "已新增 {id}。",
    "Saved {id} (version {version}).": "已保存 {id}（版本 {version}）。",
    "Deleted {id}.": "已删除 {id}。",
    "id": "编号",
    "category": "类别",
    "question": "问题",
    "alternatives": "其他问法",
    "answer": "答案",
    "version": "版本",
    "entry": "条目",
    "cosine": "余弦",
    "bm25": "BM25",
    "fused": "融合得分",
    "Unknown knowledge base {kb}.": "未知的知识库 {kb}。",
    "Only the assistant's answers can be rated.": "只能给助手的回答评分。",
    "Choose a .csv, .json or .md file first.": "请先选择一个 .csv、.json 或 .md 文件。",
    # ------------------------------------------------------------------ customer service: intents, inbox
    "Fine-tuning runs on the CPU: BANKING77 takes about 8 minutes for 3 epochs on 2 cores. "
    "The bar shows each step.":
        "微调在 CPU 上运行：BANKING77 在 2 核上训练 3 轮约需 8 分钟。进度条会显示每一步。",
    "Trained a **{mode}** model on {n_examples:,} examples, {n_intents} intents, in {seconds:.0f} s. "
    "It is saved and in use.":
        "已用 {n_examples:,} 个样例、{n_intents} 个意图训练了 **{mode}** 模型，用时 {seconds:.0f} 秒。"
        "模型已保存并启用。",
    "head": "分类头",
    "finetune": "微调",
    "**Accuracy {accuracy:.1%}** · **macro-F1 {macro_f1:.3f}** on {n:,} utterances.":
        "**准确率 {accuracy:.1%}** · **宏平均 F1 {macro_f1:.3f}**，共 {n:,} 条语句。",
    "⚠️ {count} intents in this set are unknown to the model.": "⚠️ 该数据集中有 {count} 个意图是模型不认识的。",
    "Current intent model: **{kind}**, {count} intents.": "当前意图模型：**{kind}**，{count} 个意图。",
    "fine-tuned MiniLM": "微调后的 MiniLM",
    "head on frozen shared embeddings": "冻结共享向量上的分类头",
    "Intents are off for this knowledge base: no intent model is trained. Train one in the "
    "Intents tab from a CSV of `text,intent` rows (a few examples per intent is enough).":
        "本知识库未启用意图识别：还没有训练意图模型。可在“意图”标签页用 `text,intent` 格式的 CSV 训练一个"
        "（每个意图几个样例就够）。",
    "Type an utterance first.": "请先输入一句话。",
    "**{answers}** answers · **{rated}** rated · 👍 {helpful} · 👎 {not_helpful} · "
    "helpful rate **{rate}** · escalation rate **{esc}**":
        "**{answers}** 条回答 · **{rated}** 条已评分 · 👍 {helpful} · 👎 {not_helpful} · "
        "有用率 **{rate}** · 转人工率 **{esc}**",
    "session_id": "会话编号",
    "reason": "原因",
    "created_at": "创建时间",
    "confidence": "置信度",
    "customer asked for a human": "客户要求人工服务",
    "no confident answer in the knowledge base": "知识库中没有足够可信的答案",
    "Enter the number of an open ticket.": "请输入一个未关闭工单的编号。",
}
