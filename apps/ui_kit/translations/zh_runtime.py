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
    "💡 Suggested to the customer meanwhile: {ids}": "💡 同时向客户推荐了：{ids}",
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
    "| calibrated confidence | **{confidence:.2f}** ({calibration}) |":
        "| 校准后的置信度 | **{confidence:.2f}**（{calibration}） |",
    "| threshold | **{threshold:.2f}** ({source}) |": "| 阈值 | **{threshold:.2f}**（{source}） |",
    "default": "默认",
    "set by hand": "手动设置",
    "generic calibration (this knowledge base is not calibrated yet)": "通用校准（本知识库尚未校准）",
    "this knowledge base's calibration for a question in another language": "本知识库的跨语言校准",
    "this knowledge base's calibration, checked by the language model": "本知识库的校准，并经语言模型核对",
    "this knowledge base's calibration for a question in another language, checked by the language model": (
        "本知识库的跨语言校准，并经语言模型核对"
    ),
    "this knowledge base's calibration": "本知识库的校准",
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
    "Suggested the best entries to the customer with the ticket: a likely match "
    "(confidence {confidence}, suggestion floor {floor}).":
        "已随工单向客户推荐最佳条目：可能匹配（置信度 {confidence}，推荐下限 {floor}）。",
    "Offered a person: the message reads as angry (sentiment {score}).":
        "已提议转人工：这条消息读起来带有怒气（情绪 {score}）。",
    "Read as a follow-up: matched together with the previous question.":
        "视为追问：与上一个问题合并匹配。",
    # ------------------------------------------------------------------ customer service: knowledge base
    "Confidence threshold {threshold:.2f} ({how}). Import entries to calibrate.":
        "置信度阈值 {threshold:.2f}（{how}）。导入条目后即可校准。",
    "**Confidence calibrated to this knowledge base**: weights learned from several "
    "companies' customer questions, read on this knowledge base's own scale (measured "
    "again after every import and edit). Expected, on its {positives} held-out questions "
    "and {negatives} off-topic and unanswerable ones: **{answer_rate:.0%}** answered with "
    "the right entry, **{error_rate:.0%}** with a wrong one, "
    "**{off_topic_answered:.0%}** of off-topic questions answered, and "
    "**{unanswerable_answered:.0%}** of its questions whose entry was taken out. "
    "Threshold {threshold:.2f} ({how}). Retrieval: {retrieval}, chosen from the knowledge base's language.":
        "**置信度已按本知识库校准**：权重从多家公司的客户问题中学得，按本知识库自己的尺度解读"
        "（每次导入和编辑后重新测量）。在它的 {positives} 个留出问题和 {negatives} 个无关或无法回答的问题上，"
        "预计：**{answer_rate:.0%}** 以正确条目回答，**{error_rate:.0%}** 以错误条目回答，"
        "无关问题中 **{off_topic_answered:.0%}** 被回答，去掉对应条目后的本库问题中 **{unanswerable_answered:.0%}** 被回答。"
        "阈值 {threshold:.2f}（{how}）。检索：{retrieval}，按知识库的语言选择。",
    "**Confidence calibrated to this knowledge base**: weights learned from several "
    "companies' customer questions, read on this knowledge base's own scale (measured "
    "again after every import and edit). Expected, on its {positives} held-out questions "
    "and {negatives} off-topic and unanswerable ones: **{answer_rate:.0%}** answered with "
    "the right entry, **{error_rate:.0%}** with a wrong one, "
    "**{off_topic_answered:.0%}** of off-topic questions answered, and "
    "**{unanswerable_answered:.0%}** of its questions whose entry was taken out. "
    "Threshold {threshold:.2f} ({how}). Retrieval: {retrieval}.":
        "**置信度已按本知识库校准**：权重从多家公司的客户问题中学得，按本知识库自己的尺度解读"
        "（每次导入和编辑后重新测量）。在它的 {positives} 个留出问题和 {negatives} 个无关或无法回答的问题上，"
        "预计：**{answer_rate:.0%}** 以正确条目回答，**{error_rate:.0%}** 以错误条目回答，"
        "无关问题中 **{off_topic_answered:.0%}** 被回答，去掉对应条目后的本库问题中 **{unanswerable_answered:.0%}** 被回答。"
        "阈值 {threshold:.2f}（{how}）。检索：{retrieval}。",
    " These estimates come from the knowledge base's own phrasings, held out one at a "
    "time: a rough guide. For your customers' figures, test the bot on their questions below.":
        " 这些估计来自知识库自己的问法（每次留出一条），仅供粗略参考。要了解你的顾客会得到怎样的回答，"
        "请在下方用他们的真实问题测试机器人。",
    " Below the threshold, a likely match (confidence at least {floor:.2f}) is escalated "
    "with the best entries suggested to the customer.":
        "低于阈值但可能匹配（置信度不低于 {floor:.2f}）的问题，转人工的同时会向客户推荐最佳条目。",
    "`{english}` + `{multilingual}` (English knowledge base; questions in another language: `{alone}` alone)":
        "`{english}` + `{multilingual}`（英文知识库；其他语言的问题只用 `{alone}`）",
    "decoding": "解码中",
    "prefilling": "预填充中",
    "waiting": "等待中",
    "KV cache MB (reserved / budget)": "KV 缓存 MB（已预留 / 预算）",
    "decode steps": "解码步数",
    "joined mid-batch": "中途加入批次",
    "refused (429)": "已拒绝（429）",
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
    # ------------------------------------------------------------------ customer service: answer tests
    "Upload a CSV with question and expected_id columns first.": "请先上传一个含 question 和 expected_id 列的 CSV。",
    "**{name}**: right {right:.0%} · wrong {wrong:.0%} · escalated {escalated:.0%} "
    "(with the right entry suggested {suggested:.0%}) of {answerable} answerable questions; "
    "off-topic escalated {off:.0%} of {off_topic}; p95 {p95:.0f} ms":
        "**{name}**：在 {answerable} 个可回答的问题中，答对 {right:.0%} · 答错 {wrong:.0%} · "
        "转人工 {escalated:.0%}（其中推荐了正确条目 {suggested:.0%}）；{off_topic} 个无关问题中转人工 "
        "{off:.0%}；p95 {p95:.0f} 毫秒",
    " · in the other language: right {right:.0%} of {n}": " · 另一种语言的问题：{n} 个中答对 {right:.0%}",
    "Nothing was stored: no conversation and no ticket. A wrong answer costs more than "
    "an escalation: the bot answers only when confident ({threshold:.0%} or more).":
        "没有保存任何内容：既没有对话，也没有工单。答错比转人工代价更高：机器人只在有把握"
        "（置信度 {threshold:.0%} 及以上）时回答。",
    "Fast match": "快速匹配",
    "Checked by the language model": "经语言模型核对",
    "fast": "快速",
    "checked": "核对后",
    "right": "答对",
    "wrong": "答错",
    "escalated": "转人工",
    "off-topic escalated": "无关问题转人工",
    "off-topic answered": "无关问题被回答",
    "Answers to the test questions": "测试问题的回答情况",
    "expected": "应答条目",
    "best match": "最佳匹配",
    "outcome": "结果",
    "checked confidence": "核对后置信度",
    "checked outcome": "核对后结果",
    "suggested": "推荐的条目",
    "checked suggested": "核对后推荐的条目",
    "(none)": "（无）",
    "{name} needs a 'question' column and an 'expected_id' column (the id of the entry that "
    "answers it; empty when none does).":
        "{name} 需要 question 列和 expected_id 列（回答该问题的条目编号；没有条目能回答时留空）。",
    "{name} holds no questions.": "{name} 中没有问题。",
    "The demo's questions fit the demo knowledge bases only; upload your own customers' "
    "questions (a CSV with question and expected_id columns).":
        "演示的问题只适用于演示知识库；请上传你自己顾客的问题（含 question 和 expected_id 列的 CSV）。",
    "{count} expected entry id(s) are not in this knowledge base: {ids}. Use the ids of the "
    "Knowledge base tab (or leave expected_id empty for a question no entry answers).":
        "有 {count} 个应答条目编号不在本知识库中：{ids}。请使用“知识库”标签页中的编号"
        "（没有条目能回答的问题，expected_id 留空）。",
    "The language model in use ({name}) has no checked map, so it does not check matches; fit "
    "one with `python -m bench.cs_llm_check --write`, or test without the check.":
        "当前使用的语言模型（{name}）没有核对映射，因此不会核对匹配；可用 "
        "`python -m bench.cs_llm_check --write` 拟合一个，或不勾选核对再测试。",
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
    # ------------------------------------------------------------------ status and home
    "**Models loaded:** {count} in {backend} replicas ({weights_mb:,.0f} MB of weights; "
    "{replicas} replicas using {rss_mb:,} MB RSS)":
        "**已加载模型：** {count} 个，位于 {backend} 副本中（权重 {weights_mb:,.0f} MB；"
        "{replicas} 个副本共占用 {rss_mb:,} MB RSS）",
    "**Models loaded:** {count} ({used_mb:.0f} MB of a {budget_mb:,} MB budget)":
        "**已加载模型：** {count} 个（已用 {used_mb:.0f} MB，预算 {budget_mb:,} MB）",
    "**Device:** {device}": "**设备：** {device}",
    "**Process memory:** {rss_mb:,} MB RSS; system memory {percent:.0f}% used":
        "**进程内存：** {rss_mb:,} MB RSS；系统内存已用 {percent:.0f}%",
    " (refused beyond {max})": "（超过 {max} 个即拒绝）",
    "**Queue depth:** {waiting} requests waiting{limit}, {running} running; "
    "{queued} waiting for a model batch":
        "**队列深度：** {waiting} 个请求在等待{limit}，{running} 个在运行；{queued} 个在等待模型批次",
    "**off (keep, opted in)**: personal data is stored and logged as typed":
        "**关闭（keep，已选择保留）**：个人数据按原样存储和记录",
    "{mode}: {kinds} masked before anything is stored or logged": "{mode}：{kinds} 在存储或记录前被遮盖",
    "{mode}: {kinds} replaced by a salted hash before anything is stored or logged":
        "{mode}：{kinds} 在存储或记录前被替换为加盐哈希",
    "nothing": "无",
    "CPU, {threads} threads ({dtype} unless a model's precision says otherwise)": (
        "CPU，{threads} 个线程（默认 {dtype}；各模型以“精度”列为准）"
    ),
    "mask": "遮盖",
    "hash": "哈希",
    "personal data: email": "邮箱地址",
    "personal data: card": "银行卡号",
    "personal data: iban": "IBAN 账号",
    "personal data: cn_id": "身份证号",
    "personal data: phone": "电话号码",
    "personal data: ip": "IP 地址",
    "personal data: name": "姓名",
    "{mb} MB in {seconds} s": "{mb} MB，用时 {seconds} 秒",
    "~{mb} MB from {source}": "约 {mb} MB，来自 {source}",
    "{mb} MB freed ({reason})": "释放 {mb} MB（{reason}）",
    "every other loaded model is busy; loading anyway": "其他已加载的模型都在忙；仍然加载",
    "**Personal-data redaction:** {text}": "**个人数据脱敏：** {text}",
    "**GPU memory:** {allocated:,} MB allocated, {reserved:,} MB reserved":
        "**GPU 显存：** 已分配 {allocated:,} MB，已保留 {reserved:,} MB",
    "**Compute used so far:** {requests:,} requests, "
    "{cpu_seconds:.2f} CPU seconds, {gpu_seconds:.2f} GPU seconds: "
    "**{cost} {currency}** at {cpu_hour:g} {currency} per CPU "
    "core-hour and {gpu_hour:g} {currency} per GPU-hour (settings "
    "`cost.cpu_hour_price`, `cost.gpu_hour_price`).  \n"
    "A batch's compute is split among its requests: generation by tokens, other inputs "
    "equally. The app is the package that called the model.":
        "**目前用掉的算力：** {requests:,} 个请求，{cpu_seconds:.2f} CPU 秒，{gpu_seconds:.2f} GPU 秒："
        "**{cost} {currency}**，按每 CPU 核时 {cpu_hour:g} {currency}、每 GPU 时 {gpu_hour:g} {currency} 计"
        "（设置项 `cost.cpu_hour_price`、`cost.gpu_hour_price`）。  \n"
        "一个批次的算力在其请求间分摊：文本生成按词元数，其他输入平均分摊。应用指调用模型的那个包。",
    "Choose a model first.": "请先选择一个模型。",
    "Loading {name}…": "正在加载 {name}…",
    "**Could not load {name}:** {error}": "**无法加载 {name}：** {error}",
    "Loaded **{name}**.": "已加载 **{name}**。",
    "Unloaded **{name}**.": "已卸载 **{name}**。",
    "{name} is not loaded or busy.": "{name} 未加载或正忙。",
    # table headers and states
    "role": "角色",
    "model": "模型",
    "default for role": "该角色默认",
    "loaded": "已加载",
    "serving": "服务状态",
    "about": "说明",
    "weights from": "权重来源",
    "running now": "正在运行",
    "memory MB": "内存 MB",
    "precision": "精度",
    "load s": "加载秒数",
    "times loaded": "加载次数",
    "deployment": "部署",
    "state": "状态",
    "replicas": "副本",
    "loaded in replicas": "已加载的副本",
    "requests": "请求数",
    "errors": "错误数",
    "queued": "排队中",
    "batches": "批次数",
    "mean batch": "平均批大小",
    "max batch": "最大批大小",
    "p50 ms": "p50 毫秒",
    "p95 ms": "p95 毫秒",
    "forward p50 ms": "前向 p50 毫秒",
    "key name": "密钥名称",
    "prompt tokens": "提示词元数",
    "completion tokens": "生成词元数",
    "audio seconds": "音频秒数",
    "requests in flight": "处理中的请求",
    "message": "消息",
    "time": "时间",
    "event": "事件",
    "detail": "详情",
    "hour": "小时",
    "app": "应用",
    "cost ({currency})": "费用（{currency}）",
    "per 1,000 requests ({currency})": "每千次请求（{currency}）",
    "CPU s": "CPU 秒",
    "GPU s": "GPU 秒",
    "tokens in": "输入词元",
    "tokens out": "输出词元",
    "audio s": "音频秒数",
    "images": "图片数",
    "loading": "加载中",
    "load failed": "加载失败",
    "memory": "内存",
    "evicted": "已换出",
    "over budget": "超出预算",
    # ------------------------------------------------------------------ text generation
    "{label} (optional)": "{label}（可选）",
    "Product": "产品",
    "Audience": "目标受众",
    "Key features": "主要特点",
    "Tone": "语气",
    "Product or news": "产品或新闻",
    "Call to action": "行动号召",
    "Points to mention": "要提到的要点",
    "Platform": "平台",
    "Topic": "主题",
    "Details to include": "要包含的细节",
    "Summary length": "摘要长度",
    "Text to summarise": "要摘要的文本",
    "Translate into": "翻译成",
    "Your request": "你的请求",
    "A short description for a shop page or a landing page.": "用于店铺页面或落地页的简短描述。",
    "An email with a subject line and one clear call to action.": "一封带主题行和一个明确行动号召的邮件。",
    "A post sized and styled for one platform.": "按某个平台的篇幅和风格写的帖子。",
    "Summarise a document, an email thread or meeting notes.": "总结一份文档、一串邮件或会议记录。",
    "Translate between Chinese and English.": "在中文和英文之间互译。",
    "Ask for anything; the system prompt sets the assistant's role.": "想问什么都可以；系统提示词决定助手的角色。",
    "Trailhead, a foldable e-bike that weighs 14 kg": "Trailhead，一款重 14 公斤的折叠电动自行车",
    "city commuters with small flats": "住小户型的城市通勤族",
    "folds in 10 seconds; 60 km range; charges from a normal socket in 3 hours":
        "10 秒折叠；续航 60 公里；普通插座 3 小时充满",
    "friendly and confident": "友好而自信",
    "Ledgerly, bookkeeping for freelancers": "Ledgerly，面向自由职业者的记账工具",
    "freelance designers": "自由职业设计师",
    "start a free 30-day trial": "开始 30 天免费试用",
    "invoices in two clicks; automatic VAT; bank sync": "两次点击开发票；自动计算增值税；银行同步",
    "warm and professional": "亲切而专业",
    "we just opened our first office in Lisbon": "我们刚在里斯本开了第一间办公室",
    "engineers looking for a job": "正在找工作的工程师",
    "we are hiring 5 engineers": "我们正在招聘 5 名工程师",
    "Meeting notes, 12 March. Present: Ana, Ben, Chloe. Ben reported that sign-ups grew 18% in "
    "February, mostly from the referral programme. Chloe said the mobile app release slips to "
    "2 April because of the payment provider review. The team decided to pause paid ads until the "
    "release and to move the budget to referrals. Ana will hire a second support agent by the end "
    "of March.":
        "3 月 12 日会议记录。出席：Ana、Ben、Chloe。Ben 报告 2 月注册量增长 18%，主要来自推荐计划。"
        "Chloe 说由于支付服务商审核，移动应用发布推迟到 4 月 2 日。团队决定在发布前暂停付费广告，"
        "把预算转到推荐计划。Ana 将在 3 月底前再招一名客服。",
    "Give me five name ideas for a meal-planning app.": "给一个做饭计划应用想五个名字。",
    " · first text after {seconds:.1f} s": " · {seconds:.1f} 秒后出现第一段文字",
    "**{model}** · {prompt_tokens:,} prompt tokens · {new_tokens:,} new tokens "
    "in {seconds:.1f} s ({tokens_per_second:.1f} tokens/s){first} · ended: {ended}":
        "**{model}** · 提示 {prompt_tokens:,} 个词元 · {seconds:.1f} 秒生成 {new_tokens:,} 个新词元"
        "（每秒 {tokens_per_second:.1f} 个）{first} · 结束原因：{ended}",
    "the model ended its answer": "模型结束了回答",
    "a stop sequence was reached": "遇到了停止序列",
    "the max new tokens limit was reached": "达到了最大新词元数",
    "cancelled": "已取消",
    "The prompt did not fit in the model's context; its oldest part was dropped "
    "({tokens} tokens were used).":
        "提示词超出了模型的上下文长度，最早的部分已被丢弃（使用了 {tokens} 个词元）。",
    "None of the stop sequences ({shown}) appeared; the text ended because {why}.":
        "没有出现任何停止序列（{shown}）；文本结束的原因是：{why}。",
    "The text stopped at the max new tokens limit ({limit}); raise it for a longer answer.":
        "文本在达到最大新词元数（{limit}）时停止；调高它可以得到更长的回答。",
    "Generating…": "正在生成…",
    "Nothing is running.": "没有正在运行的生成。",
    " …[cancelled]": " …［已取消］",
    "Scoring with {model}…": "正在用 {model} 打分…",
    " + adapter {name}": " + 适配器 {name}",
    "### Perplexity: {value:,.2f}\n"
    "{tokens:,} tokens under **{under}**. Lower means the model finds the text more "
    "predictable: fluent, familiar text scores low; scrambled or unusual text scores high. "
    "Compare texts under the same model only (tokenizers differ).":
        "### 困惑度：{value:,.2f}\n"
        "在 **{under}** 下共 {tokens:,} 个词元。越低表示模型觉得文本越可预测：流畅、常见的文本得分低；"
        "打乱的或不寻常的文本得分高。只在同一模型下比较文本（各模型的分词器不同）。",
    "{title} (mine)": "{title}（我的）",
    "Saved '{title}' with fields: {fields}.": "已保存“{title}”，字段：{fields}。",
    "There is no saved template named '{name}'.": "没有名为“{name}”的已保存模板。",
    "Deleted '{name}'.": "已删除“{name}”。",
    "### Result": "### 结果",
    "Pick **{name}** in *Adapter* (right) to use it in Write and Chat.":
        "在右侧的 *适配器* 中选择 **{name}**，即可在写作和对话中使用它。",
    "Cancelled after {steps} steps; nothing was saved.": "在 {steps} 步后取消；没有保存任何内容。",
    "Adapter '{name}' on {base}: {steps} steps ({epochs} epochs) on {examples} examples in {seconds} s, "
    "peak memory {memory} MB.":
        "适配器“{name}”（基于 {base}）：在 {examples} 个样例上训练 {steps} 步（{epochs} 轮），"
        "用时 {seconds} 秒，峰值内存 {memory} MB。",
    "Held-out perplexity: {before} (base) -> {after} (adapter), on {examples} examples.":
        "留出集困惑度：{before}（基础模型）-> {after}（适配器），共 {examples} 个样例。",
    "Valid JSON: {json_before} -> {json_after}; exact fields: {fields_before} -> {fields_after} "
    "({examples} held-out prompts).":
        "有效 JSON：{json_before} -> {json_after}；字段完全正确：{fields_before} -> {fields_after}"
        "（{examples} 个留出提示）。",
    "Training: {message}": "训练中：{message}",
    "Comparing the adapter with the base model…": "正在比较适配器与基础模型…",
    "Comparing the adapter with the base model on held-out prompts…": "正在用留出提示比较适配器与基础模型…",
    "No training is running.": "没有正在运行的训练。",
    "Cancelling at the next step; nothing will be saved.": "将在下一步取消；不会保存任何内容。",
    "Renamed '{old}' to '{new}'.": "已将“{old}”重命名为“{new}”。",
    "Choose a saved template to delete.": "请选择要删除的已保存模板。",
    "Fill in '{field}' (template '{template}').": "请填写“{field}”（模板“{template}”）。",
    "'{field}' must be one of: {choices}; got {value}.": "“{field}”必须是以下之一：{choices}；收到的是 {value}。",
    "Template '{template}' rendered to an empty prompt.": "模板“{template}”生成的提示词是空的。",
    "'{name}' is a built-in template; choose another name.": "“{name}”是内置模板；请换一个名称。",
    "The title is {n} characters; the limit is {limit}.": "标题有 {n} 个字符；上限为 {limit}。",
    "The description is {n} characters; the limit is {limit}.": "描述有 {n} 个字符；上限为 {limit}。",
    "The prompt has {n} fields; the limit is {limit}.": "提示词有 {n} 个字段；上限为 {limit}。",
    "A template name is 2-40 characters: lower-case letters, digits and _, starting with a letter "
    "(like launch_tweet); got {name}.":
        "模板名称为 2 到 40 个字符：小写字母、数字和 _，以字母开头（例如 launch_tweet）；收到的是 {name}。",
    "Upload a training file (.jsonl, .csv or .txt) first.": "请先上传训练文件（.jsonl、.csv 或 .txt）。",
    "Choose an adapter to rename.": "请选择要重命名的适配器。",
    "Choose an adapter to delete.": "请选择要删除的适配器。",
    # ------------------------------------------------------------------ recommendation
    " Columns: {columns}.": " 列：{columns}。",
    " Item text is read by `{model}`.": " 物品文本由 `{model}` 读取。",
    "**{source}**: {interactions:,} interactions, {users:,} users, "
    "{items:,} items (density {density:.2%}); "
    "ratings: {ratings}, timestamps: {timestamps}, "
    "items with metadata: {items_with_metadata:,}.{columns} Next: *Train & evaluate*.":
        "**{source}**：{interactions:,} 条交互，{users:,} 个用户，{items:,} 个物品（密度 {density:.2%}）；"
        "评分：{ratings}，时间戳：{timestamps}，有元数据的物品：{items_with_metadata:,}。{columns}"
        "下一步：*训练与评估*。",
    "MovieLens-100k": "MovieLens-100k",
    "Best on NDCG@{k}: **{best}**, retrained on all interactions and now serving the tabs below. "
    "Protocol: {protocol}; full ranking over all items, training and validation items masked.":
        "NDCG@{k} 最佳：**{best}**，已在全部交互上重新训练，现为下方各标签页提供推荐。"
        "评估协议：{protocol}；在全部物品上完整排序，训练和验证物品已屏蔽。",
    "Random 80/10/10 per user (RecBole)": "每个用户随机 80/10/10 划分（RecBole）",
    "Temporal leave-last-out": "按时间留出最后一次",
    "train s": "训练秒数",
    "rank": "排名",
    "title": "标题",
    "item_id": "物品编号",
    "user_id": "用户编号",
    "score": "得分",
    "strength": "强度",
    "also because": "其他原因",
    "text that mattered": "起作用的文字",
    "rating": "评分",
    "timestamp": "时间戳",
    "Because you liked {title}": "因为你喜欢 {title}",
    "Popular: {count} users interacted with it": "热门：{count} 个用户与之有过交互",
    "popular": "热门",
    "Matches your description": "符合你的描述",
    "Similar to {name}": "与 {name} 相似",
    "{share} of score · similarity {similarity}": "占得分 {share} · 相似度 {similarity}",
    "similarity {similarity}": "相似度 {similarity}",
    "{share} of score": "占得分 {share}",
    "{share} of score, similarity {similarity}": "占得分 {share}，相似度 {similarity}",
    "{title} ({share} of score)": "{title}（占得分 {share}）",
    "{title} (similarity {similarity})": "{title}（相似度 {similarity}）",
    "{word} (−{share} without it)": "{word}（去掉后 −{share}）",
    "User {user} has already interacted with {title}; recommendations leave out what a user has seen.":
        "用户 {user} 已经与 {title} 有过交互；推荐会排除用户已看过的物品。",
    "{title} ranks {rank} of {candidates} unseen items for user {user}: it {verdict} "
    "(score {score}, top-{k} cut-off {cutoff}).":
        "在用户 {user} 未看过的 {candidates} 个物品中，{title} 排第 {rank}：{verdict}"
        "（得分 {score}，前 {k} 名门槛 {cutoff}）。",
    "{title} ranks {rank} of {candidates} unseen items for user {user}: it {verdict} "
    "(score {score}, top-{k} cut-off {cutoff}, {gap} below the cut-off).":
        "在用户 {user} 未看过的 {candidates} 个物品中，{title} 排第 {rank}：{verdict}"
        "（得分 {score}，前 {k} 名门槛 {cutoff}，比门槛低 {gap}）。",
    "is in the top {k}": "在前 {k} 名之内",
    "is not in the top {k}": "不在前 {k} 名之内",
    "top-{k} cut-off": "前 {k} 名门槛",
    "in top {k}": "是否在前 {k} 名",
    "Nearest reasons in the user's history:": "用户历史中最接近的原因：",
    "Because they liked {title}": "因为他们喜欢 {title}",
    "Share of score: the part of the item's score this liked item adds; the model "
    "adds up a part from every item the user liked, so with a long history each is small.":
        "占得分：这个已喜欢的物品为该物品得分贡献的部分；模型把用户喜欢的每个物品的贡献相加，"
        "所以历史越长，每一项越小。",
    "No item in the user's history points to it (the model's similarity is not positive).":
        "用户历史中没有物品指向它（模型给出的相似度不为正）。",
    "Text that matters in its match: {evidence}.": "对其匹配起作用的文字：{evidence}。",
    "Choose a user first.": "请先选择一个用户。",
    "Choose the item to ask about.": "请选择要询问的物品。",
    "Model {model} was not trained; train it first.": "模型 {model} 尚未训练；请先训练它。",
    # ------------------------------------------------------------------ speech
    "**{name}**: {duration:.1f} s, language **{language}**, {what} by `{model}` in {windows}, {segments}.":
        "**{name}**：{duration:.1f} 秒，语言 **{language}**，由 `{model}` {what}，共 {windows}、{segments}。",
    "none (no speech heard)": "无（没有听到语音）",
    "translated to English": "翻译成英文",
    "transcribed": "转写",
    "1 window": "1 个窗口",
    "{n} windows": "{n} 个窗口",
    "1 segment": "1 个片段",
    "{n} segments": "{n} 个片段",
    "file": "文件",
    "start": "开始",
    "end": "结束",
    "text": "文本",
    "word": "词",
    "probability": "概率",
    "Skipped: {error}": "已跳过：{error}",
    "No speech was heard in {name}.": "在 {name} 中没有听到语音。",
    "**Word error rate {wer:.1%}**, character error rate {cer:.1%} "
    "(after normalising case, punctuation and numbers).":
        "**词错误率 {wer:.1%}**，字错误率 {cer:.1%}（已统一大小写、标点和数字）。",
    "Upload an audio file or record with the microphone first.": "请先上传音频文件或用麦克风录音。",
    "None of the files could be read as audio; see the warnings.": "没有一个文件能作为音频读取；请查看警告。",
    "Transcribe something first.": "请先转写一段音频。",
    "Paste the reference (correct) transcript first.": "请先粘贴参考（正确的）文字稿。",
    "Cannot score: {error}.": "无法评分：{error}。",
    "'{name}' is {minutes} min long; the limit is {limit} ({seconds} s, setting limits.max_audio_seconds). "
    "Trim or split the recording.":
        "“{name}”长 {minutes} 分钟；上限为 {limit}（{seconds} 秒，设置项 limits.max_audio_seconds）。"
        "请剪短或拆分录音。",
    "'{name}' does not look like an audio file (extension '{ext}'). Supported: {allowed}.":
        "“{name}”看起来不是音频文件（扩展名“{ext}”）。支持：{allowed}。",
    "No such audio file: '{name}'.": "没有这个音频文件：“{name}”。",
    "'{name}' is an empty file.": "“{name}”是空文件。",
    "'{name}' could not be read as audio: it is corrupt or not an audio file ({error}).":
        "“{name}”无法作为音频读取：文件已损坏或不是音频文件（{error}）。",
    "'{name}' contains no audio samples.": "“{name}”不含任何音频采样。",
    "'{name}' contains NaN or infinite samples.": "“{name}”含有 NaN 或无穷大的采样。",
    # ------------------------------------------------------------------ vision
    "label": "标签",
    "top predictions": "最可能的类别",
    "error": "错误",
    "What the model looked at for '{label}' ({score:.0%})": "模型判断“{label}”（{score:.0%}）时关注的区域",
    "{bad} of {n} files could not be read (see the error column).": "{n} 个文件中有 {bad} 个无法读取（见“错误”列）。",
    "No objects above the threshold; try a lower one.": "没有高于阈值的物体；试试更低的阈值。",
    "{name}: {count} objects": "{name}：{count} 个物体",
    "### Saved as `{name}` ({method})\n"
    "Held-out accuracy **{accuracy:.1%}**, macro-F1 **{macro_f1:.3f}** on {n_test:,} images "
    "never seen in training. Training took {seconds:.0f} s. "
    "Training images per class: {counts}.\n\nThe model is now selectable in the **Classify** tab.":
        "### 已保存为 `{name}`（{method}）\n"
        "在 {n_test:,} 张训练中从未见过的图片上，留出集准确率 **{accuracy:.1%}**，宏平均 F1 **{macro_f1:.3f}**。"
        "训练用时 {seconds:.0f} 秒。每类训练图片数：{counts}。\n\n现在可以在 **分类** 标签页选择这个模型。",
    "cnn": "卷积网络",
    "The collection holds **{n:,}** images.": "集合中有 **{n:,}** 张图片。",
    "Skipped {note}": "已跳过 {note}",
    "{name}  (similarity {score:.2f})": "{name}（相似度 {score:.2f}）",
    "Upload an image first (or click an example).": "请先上传一张图片（或点击一个示例）。",
    "Upload one or more images.": "请上传一张或多张图片。",
    "Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist.":
        "未安装 Fashion-MNIST：apt-get install dataset-fashion-mnist。",
    "Upload a zip file of class_name/image.jpg folders.": "请上传一个按 类别名/图片.jpg 组织的 zip 文件。",
    "Upload images to add to the collection.": "请上传要加入集合的图片。",
    "Upload a query image first (or click an example).": "请先上传一张查询图片（或点击一个示例）。",
    "No image file at {path}.": "{path} 处没有图片文件。",
    "The image is empty (0 bytes).": "图片是空的（0 字节）。",
    "The data is not an image in a format that can be read.": "这些数据不是可读取格式的图片。",
    "The image file is truncated or corrupt ({error}).": "图片文件不完整或已损坏（{error}）。",
    "The image has too many pixels to process safely ({error}).": "图片像素过多，无法安全处理（{error}）。",
    "The image has no pixels ({width} x {height}).": "图片没有像素（{width} x {height}）。",
    "The image is {width} x {height} = {pixels} pixels; the limit is {limit} (SPRINGBOARD_LIMITS__MAX_IMAGE_PIXELS).":
        "图片为 {width} x {height} = {pixels} 像素；上限为 {limit}（SPRINGBOARD_LIMITS__MAX_IMAGE_PIXELS）。",
    "None of the images could be read: {errors}": "没有一张图片能读取：{errors}",
    "These class folders hold no images: {folders}.": "这些类别文件夹里没有图片：{folders}。",
    "The zip is corrupt ({error}).": "zip 文件已损坏（{error}）。",
    # ------------------------------------------------------------------ home page examples
    "*Escalated to a human (confidence {confidence}): the bot does not guess.*":
        "*已转人工（置信度 {confidence}）：机器人不会瞎猜。*",
    "*Source: FAQ entry `{id}` ({question}); confidence {confidence}; intent `{intent}`.*":
        "*来源：FAQ 条目 `{id}`（{question}）；置信度 {confidence}；意图 `{intent}`。*",
    "Pick a movie first.": "请先选择一部电影。",
    "**{title}** (similarity {score})": "**{title}**（相似度 {score}）",
    "People who watched **{title}** also watched:": "看过 **{title}** 的人也看了：",
    "*Language: {language}; {seconds} s of audio.*": "*语言：{language}；音频 {seconds} 秒。*",
    "Record or upload a clip first.": "请先录制或上传一段音频。",
    "Upload a photo first.": "请先上传一张照片。",
    # ------------------------------------------------------------------ model descriptions
    # The home page's models table shows each registered model's description (its "about").
    "EfficientNet-Lite0 ImageNet-1k classifier, 1280-d image features":
        "EfficientNet-Lite0 ImageNet-1k 分类器，1280 维图像特征",
    "Trains image classifiers (linear head, fine-tuning, small CNN) into local: folders":
        "训练图像分类器（线性头、微调、小型 CNN），保存到 local: 文件夹",
    "YOLOv3-tiny COCO detector (80 classes), 416x416 letterbox":
        "YOLOv3-tiny COCO 检测器（80 类），416x416 等比缩放",
    "Whisper base (74M), multilingual speech recognition and translation to English":
        "Whisper base（7400 万参数），多语言语音识别及译成英文",
    "Whisper tiny.en (39M), fast English-only speech recognition":
        "Whisper tiny.en（3900 万参数），快速的纯英文语音识别",
    "all-MiniLM-L6-v2 sentence embeddings, 384-d, English": "all-MiniLM-L6-v2 句向量，384 维，英文",
    "multilingual-e5-small sentence embeddings, 384-d, ~100 languages incl. Chinese":
        "multilingual-e5-small 句向量，384 维，约 100 种语言（含中文）",
    "Trains softmax heads on embeddings and fine-tunes MiniLM for intents":
        "在句向量上训练 softmax 分类头，并为意图识别微调 MiniLM",
    "Qwen2.5-Coder-0.5B-Instruct: chat, code and copy; English, Chinese and more":
        "Qwen2.5-Coder-0.5B-Instruct：对话、代码和文案；支持英文、中文等",
    "SmolLM2-135M-Instruct: tiny and fast, weak at following context":
        "SmolLM2-135M-Instruct：小而快，但不太会遵循上下文",
    "Trains LoRA adapters on the text generation models (peft)": "为文本生成模型训练 LoRA 适配器（peft）",
    " *Refitting after the latest edits; these figures are from the last fit.*":
        " *正在根据最新修改重新校准；以上数字来自上一次校准。*",
}
