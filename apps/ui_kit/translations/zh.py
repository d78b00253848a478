"""Simplified Chinese for the pages, keyed by the English text they show (see ``apps.ui_kit.i18n``).

Keys are matched with runs of whitespace folded, so reflowing a paragraph keeps its entry;
any other change to an English text leaves it in English until its entry is updated here
(``tests/apps/test_i18n.py`` lists the texts that have none). Values are shown as written:
keep Markdown as Markdown, and leave names (Springboard, MovieLens, LoRA...) in Latin script.
Braces are avoided in values: Gradio's front end formats translations as ICU messages.
"""

from __future__ import annotations

from shared_models.types.speech import LANGUAGES as WHISPER_LANGUAGES  # code -> English name

ZH: dict[str, str] = {
    # ------------------------------------------------------------------ navbar and shared words
    "Home": "首页",
    "Customer service": "智能客服",
    "Recommendation": "推荐系统",
    "Speech": "语音转文字",
    "Vision": "图像识别",
    "Text generation": "文本生成",
    "Status": "运行状态",
    "Refresh": "刷新",
    "Search": "搜索",
    "Delete": "删除",
    "Cancel": "取消",
    "Import": "导入",
    "Train": "训练",
    "Evaluate": "评估",
    "Model": "模型",
    "Data": "数据",
    "Settings": "设置",
    "Image": "图片",
    "Images": "图片",
    "Results": "结果",
    "Objects": "物体",
    "Loss": "损失",
    "Seed": "随机种子",
    "Name": "名称",
    "Title": "标题",
    "Text": "文本",
    "Time": "时间",
    "User": "用户",
    "Item": "物品",
    "Rating": "评分",
    "Category": "类别",
    "Question": "问题",
    "Answer": "答案",
    "Prompt": "提示词",
    "Write": "写作",
    "Chat": "对话",
    "Language": "语言",
    "Task": "任务",
    "Method": "方法",
    "Epochs": "训练轮数",
    "Load": "加载",
    "Unload": "卸载",
    # ------------------------------------------------------------------ home
    "# Springboard\n\nFive AI products served from one machine, on one shared model core. Every model\n"
    "runs locally from an installed package: nothing is sent to a third party, and it\nworks offline.\n\n"
    "Each app has a Python API for building your own product and a page here for\nshowing it. "
    "The **Status** page shows the shared core at work: which models are\nloaded, on which device, "
    "how much memory they use, and how requests are batched.": (
        "# Springboard\n\n五款 AI 产品，由一台机器、一个共享的模型核心提供服务。每个模型都从已安装的软件包在本机运行："
        "数据不会发送给任何第三方，断网也能用。\n\n"
        "每个应用都有 Python API，可用来搭建你自己的产品，这里还有一个演示页面。"
        "**运行状态**页展示共享核心的实时情况：加载了哪些模型、在哪个设备上、占用多少内存，以及请求如何合并成批。"
    ),
    "## Apps\n\n"
    "- **[Customer service](/customer-service)**: A support assistant that answers from your FAQ, cites its source, detects intents and hands over to people.\n"
    "- **[Recommendation](/recommendation)**: Train a recommender on who-bought-what, compare it with baselines, explain and serve recommendations, and ask why an item is not recommended.\n"
    "- **[Speech](/speech)**: Transcripts with timestamps and subtitles from calls, voice notes and recordings.\n"
    "- **[Vision](/vision)**: Classify and detect objects in photos, train a classifier on your own labelled images, and find similar images.\n"
    "- **[Text generation](/textgen)**: Product copy, emails, posts, summaries and Chinese↔English translation, streamed; chat; perplexity; LoRA fine-tuning on your own examples.": (
        "## 应用\n\n"
        "- **[智能客服](/customer-service)**：根据你的常见问题（FAQ）作答并注明出处，识别意图，必要时转接人工。\n"
        "- **[推荐系统](/recommendation)**：用“谁买了什么”的数据训练推荐模型，与基线比较，解释并提供推荐，还能查询某件商品为何没有被推荐。\n"
        "- **[语音转文字](/speech)**：把通话、语音留言和录音转成带时间戳的文字稿和字幕。\n"
        "- **[图像识别](/vision)**：对照片做分类和物体检测，用你自己标注的图片训练分类器，查找相似图片。\n"
        "- **[文本生成](/textgen)**：商品文案、邮件、社交帖子、摘要和中英互译，流式输出；对话；困惑度；"
        "用你自己的示例做 LoRA 微调。"
    ),
    "## Try each app here\nEach example is a real call to the app's Python API on this machine "
    "(the first call loads the model, which takes a few seconds).": (
        "## 在这里试用每个应用\n每个示例都是在本机对应用 Python API 的真实调用（第一次调用需要加载模型，要等几秒）。"
    ),
    "### [Customer service](/customer-service)\nA support assistant that answers from your FAQ, "
    "cites its source, detects intents and hands over to people.": (
        "### [智能客服](/customer-service)\n根据你的常见问题（FAQ）作答并注明出处，识别意图，必要时转接人工。"
    ),
    "A customer writes": "客户来信",
    "Ask the support bot": "问客服机器人",
    "[Open the full Customer service app →](/customer-service)": "[打开完整的智能客服应用 →](/customer-service)",
    "### [Recommendation](/recommendation)\nTrain a recommender on who-bought-what, compare it with "
    "baselines, explain and serve recommendations, and ask why an item is not recommended.": (
        "### [推荐系统](/recommendation)\n用“谁买了什么”的数据训练推荐模型，与基线比较，解释并提供推荐，还能查询某件商品为何没有被推荐。"
    ),
    "A movie you liked": "你喜欢的一部电影",
    "Find similar movies": "查找相似电影",
    "[Open the full Recommendation app →](/recommendation)": "[打开完整的推荐系统应用 →](/recommendation)",
    "### [Speech](/speech)\nTranscripts with timestamps and subtitles from calls, voice notes and recordings.": (
        "### [语音转文字](/speech)\n把通话、语音留言和录音转成带时间戳的文字稿和字幕。"
    ),
    "A voice note (or record your own)": "一段语音留言（也可以自己录一段）",
    "Transcribe": "转写",
    "[Open the full Speech app →](/speech)": "[打开完整的语音转文字应用 →](/speech)",
    "### [Vision](/vision)\nClassify and detect objects in photos, train a classifier on your own "
    "labelled images, and find similar images.": (
        "### [图像识别](/vision)\n对照片做分类和物体检测，用你自己标注的图片训练分类器，查找相似图片。"
    ),
    "A photo (or upload your own)": "一张照片（也可以上传你自己的）",
    "What is in it?": "图里有什么？",
    "[Open the full Vision app →](/vision)": "[打开完整的图像识别应用 →](/vision)",
    "### [Text generation](/textgen)\nProduct copy, emails, posts, summaries and Chinese↔English "
    "translation, streamed; chat; perplexity; LoRA fine-tuning on your own examples.": (
        "### [文本生成](/textgen)\n商品文案、邮件、社交帖子、摘要和中英互译，流式输出；对话；困惑度；用你自己的示例做 LoRA 微调。"
    ),
    "[Open the full Text generation app →](/textgen)": "[打开完整的文本生成应用 →](/textgen)",
    "## Models\nLoaded on first use and shared by every app. Choose others with "
    "`SPRINGBOARD_MODELS__<ROLE>` (see the README).": (
        "## 模型\n首次使用时加载，所有应用共用。可用 `SPRINGBOARD_MODELS__<ROLE>` 换用其他模型（见 README）。"
    ),
    # ------------------------------------------------------------------ customer service
    "# Customer service\nA support assistant that answers from your FAQ, cites its source, detects "
    "intents and hands over to people. The demo knowledge bases are for **Kestrel Money**, a fictional "
    "neobank; import your own FAQ in the Knowledge base tab.": (
        "# 智能客服\n根据你的常见问题（FAQ）作答并注明出处，识别意图，必要时转接人工。"
        "演示知识库属于虚构的互联网银行 **Kestrel Money**；在“知识库”标签页导入你自己的 FAQ。"
    ),
    "Knowledge base": "知识库",
    "Your knowledge base": "你的知识库",
    "Demo: Kestrel Money (English)": "演示：Kestrel Money（英文）",
    "Demo: Kestrel Money (中文)": "演示：Kestrel Money（中文）",
    "Conversation": "对话记录",
    "Your message": "你的消息",
    "Try these": "试试这些问题",
    "Phrase answers with the language model (streams; slower)": "用语言模型润色回答（流式输出，较慢）",
    "Check a match in doubt with the language model": "没有把握的匹配由语言模型核对",
    "Answers stay word for word; a second or two more, for those questions only": "回答仍是条目原文；只有这类问题会多花一两秒",
    "It also checks a match in doubt before answering or escalating it": "没有把握的匹配，也会先由它核对，再决定回答还是转人工",
    "Sources and confidence appear here after each answer.": "每次回答后，这里会显示出处和置信度。",
    "Hand over to a human": "转人工客服",
    "New conversation": "新对话",
    "Import `question,answer` files (optional `id`, `category`, `alternatives` separated by `|`) as "
    "CSV, JSON or Markdown (`## Question {#id}` headings). Entries with an existing id are replaced; "
    "nothing is stored unless the whole file is valid.": (
        "导入包含 `question,answer` 的文件（可选 `id`、`category`，以及用 `|` 分隔的 `alternatives`），"
        "格式可以是 CSV、JSON 或 Markdown（以 `## 问题 {#id}` 形式的标题分条）。id 已存在的条目会被替换；"
        "只有整个文件都有效时才会保存。"
    ),
    "FAQ file": "FAQ 文件",
    "Company name (the bot greets as this; empty: from the file name)": "公司名称（机器人以此名义问候；留空则取文件名）",
    "Replace your knowledge base with this file": "用这个文件替换你的知识库",
    "Test the bot on your customers' questions": "用顾客的真实问题测试机器人",
    "A CSV of real customers' questions with a `question` column and an `expected_id` column: the id "
    "of the entry that answers it, or empty when none does (the bot should hand it to a person). The "
    "bot decides each one as it would in a chat, and stores nothing.":
        "上传顾客真实问题的 CSV，含 `question` 列和 `expected_id` 列：`expected_id` 是回答该问题的条目编号，"
        "没有条目能回答时留空（机器人应转人工）。机器人会像在对话中一样判断每个问题，但不保存任何内容。",
    "The demo's customer questions (demo knowledge bases)": "演示的顾客问题（仅限演示知识库）",
    "Test questions": "测试问题",
    "CSV with question,expected_id columns": "含 question、expected_id 列的 CSV",
    "Also with the language model's check": "同时测试语言模型核对",
    "About a second more for each question in doubt": "每个没有把握的问题约多用一秒",
    "Test the bot": "测试机器人",
    "Outcomes": "结果",
    "Each question, mistakes first": "每个问题（错误排在前面）",
    "Example searches": "搜索示例",
    "Example utterances": "语句示例",
    "Example messages": "消息示例",
    "Example texts": "文本示例",
    "Example photos": "示例图片",
    "Example templates": "模板示例",
    "Manual confidence threshold": "手动置信度阈值",
    "Use this threshold": "使用此阈值",
    "Back to the default": "恢复默认",
    "Search the knowledge base": "搜索知识库",
    "card hasn't arrived": "卡还没收到",
    "Best matches": "最佳匹配",
    "Entries (click a row to edit it)": "条目（点击一行进行编辑）",
    "Id (empty for a new entry: derived from the question)": "ID（新条目留空：由问题生成）",
    "Version you are editing": "正在编辑的版本",
    "Alternative phrasings (separated by |)": "其他问法（用 | 分隔）",
    "Load by id": "按 ID 加载",
    "Save (add or update)": "保存（新增或更新）",
    "Intents": "意图",
    "### Train": "### 训练",
    "### Evaluate": "### 评估",
    "Labelled utterances": "已标注的语句",
    "Demo intents (Kestrel, 10 intents)": "演示意图（Kestrel，10 个意图）",
    "BANKING77 train (10,003 utterances)": "BANKING77 训练集（10,003 条语句）",
    "BANKING77 test (3,080 utterances)": "BANKING77 测试集（3,080 条语句）",
    "Uploaded CSV": "上传的 CSV",
    "CSV with text,intent columns": "含 text,intent 两列的 CSV",
    "Head on shared embeddings (seconds)": "在共享向量上训练分类头（几秒）",
    "Fine-tune MiniLM (minutes; best accuracy)": "微调 MiniLM（几分钟；准确率最高）",
    "Fine-tuning epochs": "微调轮数",
    "Test utterances": "测试语句",
    "Try an utterance": "试一句话",
    "I still haven't received my card": "我还没收到我的卡",
    "Predicted intents": "预测的意图",
    "Confusion matrix": "混淆矩阵",
    "Hardest intents": "最难识别的意图",
    "Inbox": "工单收件箱",
    "Open tickets": "待处理工单",
    "Ticket #": "工单号",
    "Close ticket": "关闭工单",
    "Session id to read": "要查看的会话 ID",
    "Show conversation": "显示对话",
    "Unanswered questions (add them to the knowledge base)": "未回答的问题（请把它们加入知识库）",
    "Privacy": "隐私",
    "Everything stored about one customer conversation: export it as JSON, or erase it (its messages, "
    "tickets and ratings; no index is built from conversations). Each export and erase is recorded "
    "below, without the content.": (
        "一次客户对话所保存的全部内容：可导出为 JSON，或彻底删除（包括消息、工单和评分；对话内容不会建立索引）。"
        "每次导出和删除都会记录在下方，但不记录内容本身。"
    ),
    "Session id": "会话 ID",
    "Export (JSON)": "导出（JSON）",
    "Erase…": "删除…",
    "Yes, erase it": "确认删除",
    "Audit log (newest first)": "审计日志（最新的在前）",
    "Refresh the audit log": "刷新审计日志",
    # ------------------------------------------------------------------ recommendation
    "## Recommendation\nTrain a recommender on who-bought-what, compare it with baselines, explain "
    "and serve recommendations, and ask why an item is not recommended.": (
        "## 推荐系统\n用“谁买了什么”的数据训练推荐模型，与基线比较，解释并提供推荐，还能查询某件商品为何没有被推荐。"
    ),
    "1. Data": "1. 数据",
    "Interactions need a user and an item column, optionally a rating and a time (CSV, TSV or Parquet); "
    "choose which is which under *Column mapping*. Item metadata (optional, needed by the hybrid model): "
    "an item id and any of title, text, tags (or name, description, genres...).": (
        "交互数据需要一列用户和一列物品，可选评分和时间（CSV、TSV 或 Parquet）；在 *列映射* 中指定各列含义。"
        "物品元数据（可选，混合模型需要）：物品 ID，以及标题、文本、标签（或名称、描述、类型……）中的任意几项。"
    ),
    "MovieLens-100k demo": "MovieLens-100k 演示数据",
    "Upload my own files": "上传我自己的文件",
    "Interactions (CSV / Parquet)": "交互数据（CSV / Parquet）",
    "Item metadata (optional)": "物品元数据（可选）",
    "Column mapping": "列映射",
    "Guessed from the uploaded file's header (`userId`, `customer_id`, `product_id`, `sku`, "
    "`event_time`...); change any before loading. A file without ratings works as it is. An event log "
    "(view / cart / purchase) has no rating: choose its event column, and each user's strongest event "
    "per item becomes one interaction weighted by it.": (
        "根据上传文件的表头猜测（`userId`、`customer_id`、`product_id`、`sku`、`event_time`……）；加载前可以修改。"
        "没有评分的文件也可以直接使用。事件日志（浏览 / 加购 / 购买）没有评分：选择它的事件列，"
        "每个用户对每个物品最强的那次事件会成为一条交互，并按事件加权。"
    ),
    "Event (implicit feedback)": "事件（隐式反馈）",
    "Event weights": "事件权重",
    "view=1, cart=2, purchase=3, remove_from_cart=0": "view=1, cart=2, purchase=3, remove_from_cart=0",
    "Empty: these and common synonyms (pv, add_to_cart, buy, transaction...). 0 drops an event, "
    "e.g. view=0 trains on carts and purchases only.": (
        "留空：使用这些事件及常见同义词（pv、add_to_cart、buy、transaction……）。"
        "权重 0 表示丢弃该事件，例如 view=0 只用加购和购买来训练。"
    ),
    "Drop exact duplicate rows instead of rejecting the file": "删除完全重复的行，而不是拒绝整个文件",
    "Examples: the MovieLens demo, or a tiny bookshop (40 readers, 12 books) as uploaded files": (
        "示例：MovieLens 演示数据，或一家小书店（40 位读者、12 本书）的上传文件"
    ),
    "Load data": "加载数据",
    "First rows": "前几行",
    "2. Train & evaluate": "2. 训练与评估",
    "Models to compare": "要比较的模型",
    "Popularity (popular)": "热门度（popular）",
    "Item-kNN (itemknn)": "物品近邻 Item-kNN（itemknn）",
    "EASE (ease)": "EASE（ease）",
    "BPR-MF (bpr)": "BPR 矩阵分解（bpr）",
    "Hybrid two-tower (hybrid)": "混合双塔模型（hybrid）",
    "Evaluation protocol": "评估方案",
    "Random 80/10/10 per user (RecBole)": "按用户随机 80/10/10 划分（RecBole）",
    "Temporal leave-last-out": "按时间留出最后一条",
    "Train and evaluate": "训练并评估",
    "K": "K",
    "Test metrics (same split for every model)": "测试指标（所有模型使用同一划分）",
    "Against the baselines": "与基线对比",
    "Training loss": "训练损失",
    "3. Recommend for a user": "3. 为用户推荐",
    "Trained models; the best is chosen for you": "已训练的模型；默认选中效果最好的",
    "How many": "数量",
    "Example users (MovieLens)": "示例用户（MovieLens）",
    "Recommend": "推荐",
    "Recommendations": "推荐结果",
    "Their latest items": "该用户最近的物品",
    "4. Similar items": "4. 相似物品",
    "Example items (MovieLens)": "示例物品（MovieLens）",
    "Find similar items": "查找相似物品",
    "Similar items": "相似物品",
    "5. Cold start": "5. 冷启动",
    "A new visitor: pick a few items they like, describe their taste, or both. Descriptions need the "
    "hybrid model (it reads item text with the shared encoder).": (
        "新访客：选几个他们喜欢的物品、描述他们的口味，或两者都做。描述需要混合模型（它用共享编码器读取物品文本）。"
    ),
    "Liked items": "喜欢的物品",
    "Description (hybrid model)": "口味描述（混合模型）",
    "space adventure with robots": "有机器人的太空冒险",
    "Recommend for a new user": "为新用户推荐",
    # ------------------------------------------------------------------ speech
    "## Speech to text\nTranscripts with timestamps and subtitles from calls, voice notes and recordings. "
    "Any wav, flac, ogg or mp3 file (any sample rate, mono or stereo) up to 30 min and 50 MB; long "
    "recordings are cut at pauses and decoded in batches.": (
        "## 语音转文字\n把通话、语音留言和录音转成带时间戳的文字稿和字幕。支持任意 wav、flac、ogg 或 mp3 文件"
        "（任意采样率，单声道或立体声），最长 30 分钟、最大 50 MB；长录音会在停顿处切分并分批解码。"
    ),
    "Record or upload a clip": "录制或上传一段音频",
    "…or several files at once": "……或一次上传多个文件",
    "Whisper base: multilingual, can translate": "Whisper base：多语言，可翻译",
    "Whisper tiny.en: fast, English only": "Whisper tiny.en：速度快，仅英文",
    "Detect automatically": "自动识别",
    # The language menu lists Whisper's languages by their English names; Chinese, which an
    # example sets, is named in Chinese too.
    "Chinese (zh)": "中文 (zh)",
    "Translate to English": "翻译成英文",
    "Examples (generated with espeak-ng; LibriVox read speech)": "示例（espeak-ng 合成语音；LibriVox 朗读录音）",
    "Transcript": "文字稿",
    "Segments": "分段",
    "Downloads (.txt, .srt, .vtt)": "下载（.txt、.srt、.vtt）",
    "Score against a reference transcript": "与参考文字稿对比评分",
    "Reference transcript": "参考文字稿",
    "Compute WER / CER": "计算词错误率 / 字错误率（WER / CER）",
    # ------------------------------------------------------------------ vision
    "# Vision\nClassify and detect objects in photos, train a classifier on your own labelled images, "
    "and find similar images. All models run on the shared core, on this machine.": (
        "# 图像识别\n对照片做分类和物体检测，用你自己标注的图片训练分类器，查找相似图片。所有模型都在本机的共享核心上运行。"
    ),
    "Classify": "分类",
    "Model (ImageNet, or one you trained)": "模型（ImageNet，或你训练的模型）",
    "ImageNet (efficientnet-lite0)": "ImageNet（efficientnet-lite0）",
    "Refresh model list": "刷新模型列表",
    "Top k": "前 k 个",
    "Probabilities": "概率",
    "Top predictions": "最可能的类别",
    "Examples (the last ones suit a Fashion-MNIST model)": "示例（最后几张适合 Fashion-MNIST 模型）",
    "Several images at once (one batched call)": "一次处理多张图片（一次批量调用）",
    "Classify all": "全部分类",
    "Example batch": "示例图片组",
    "Detect": "检测",
    "Score threshold": "分数阈值",
    "NMS overlap (IoU) limit": "NMS 重叠（IoU）上限",
    "Detections": "检测结果",
    "Objects (boxes in pixels)": "物体（边框以像素计）",
    "Detect in all": "全部检测",
    "Train a classifier on your own labelled images: a zip of `class_name/image.jpg` folders (20% of each "
    "class is held out for testing), or the Fashion-MNIST demo set. Photos get a linear head on frozen "
    "EfficientNet-Lite0 features (seconds), optionally followed by fine-tuning the last blocks. "
    "Fashion-MNIST's 28x28 greyscale garments get a small CNN trained from scratch: ImageNet features of "
    "tiny greyscale images are weak, and the CNN reaches about 92-93% on the full set (see "
    "bench/RESULTS.md; ~10-20 min on 2 CPU cores, about 2 min for 10,000 images).": (
        "用你自己标注的图片训练分类器：上传按 `类别名/图片.jpg` 组织的 zip 压缩包（每个类别留出 20% 用于测试），"
        "或使用 Fashion-MNIST 演示数据集。照片会在冻结的 EfficientNet-Lite0 特征上训练一个线性分类头（几秒），"
        "可选再微调最后几层。Fashion-MNIST 的 28x28 灰度服装图片则从头训练一个小型 CNN："
        "微小灰度图的 ImageNet 特征效果很弱，而这个 CNN 在完整数据集上能达到约 92-93%"
        "（见 bench/RESULTS.md；2 核 CPU 上约 10-20 分钟，1 万张图片约 2 分钟）。"
    ),
    "Training data": "训练数据",
    "Fashion-MNIST demo set": "Fashion-MNIST 演示数据集",
    "Upload a zip of class_name/image.jpg": "上传 类别名/图片.jpg 结构的 zip",
    "Zip of class folders": "按类别分文件夹的 zip",
    "auto (CNN for Fashion-MNIST, head for photos)": "自动（Fashion-MNIST 用 CNN，照片用分类头）",
    "head on frozen EfficientNet-Lite0 features (photos)": "冻结 EfficientNet-Lite0 特征上的分类头（照片）",
    "small CNN from scratch (28x28 greyscale)": "从头训练的小型 CNN（28x28 灰度图）",
    "Fine-tuning epochs (head method only)": "微调轮数（仅分类头方法）",
    "Max training images (0 = all)": "最多训练图片数（0 = 全部）",
    "Model name (optional)": "模型名称（可选）",
    "e.g. defects-v1": "例如 defects-v1",
    "Loss and accuracy": "损失与准确率",
    "Confusion matrix (held-out)": "混淆矩阵（留出集）",
    "Build a collection of images, then find the ones most similar to a query (cosine similarity of "
    "EfficientNet-Lite0 embeddings in a FAISS index).": (
        "建立一个图片集合，然后查找与查询图片最相似的图片（在 FAISS 索引中比较 EfficientNet-Lite0 向量的余弦相似度）。"
    ),
    "Images to add": "要添加的图片",
    "Add to collection": "加入集合",
    "Add the example photos": "加入示例照片",
    "Clear collection": "清空集合",
    "The collection is empty: add images.": "集合是空的：请添加图片。",
    "Query image": "查询图片",
    "Find similar": "查找相似",
    "Most similar": "最相似的图片",
    # ------------------------------------------------------------------ text generation
    "## Text generation\nWrite startup copy from templates, chat, or measure how predictable a text is. "
    "Text streams as it is generated; requests from many users share the model's batches.": (
        "## 文本生成\n用模板写创业公司的文案、对话，或衡量一段文本有多可预测。文本边生成边显示；多个用户的请求共用模型的批次。"
    ),
    "Template": "模板",
    "Product description": "商品描述",
    "Marketing email": "营销邮件",
    "Social media post": "社交媒体帖子",
    "Summary": "摘要",
    "Translation (Chinese ↔ English)": "翻译（中 ↔ 英）",
    "Free prompt": "自由提示词",
    "**Product description** — A short description for a shop page or a landing page.": (
        "**商品描述** — 用于店铺页面或落地页的简短描述。"
    ),
    "System prompt": "系统提示词",
    "Option": "选项",
    "English": "英文",
    "Simplified Chinese": "简体中文",
    "one sentence": "一句话",
    "one short paragraph": "一小段",
    "three bullet points": "三个要点",
    "Field 1": "字段 1",
    "Field 2": "字段 2",
    "Field 3": "字段 3",
    "Field 4": "字段 4",
    "Field 5": "字段 5",
    "Field 6": "字段 6",
    "Generate": "生成",
    "Output": "输出",
    "Download .txt": "下载 .txt",
    "Prompt sent to the model": "发送给模型的提示词",
    "Examples (pick one, then Generate)": "示例（选一个，然后点“生成”）",
    "Message": "消息",
    "Ask anything…": "随便问点什么…",
    "Send": "发送",
    "Clear chat": "清空对话",
    "My templates": "我的模板",
    "Save your own template: write the request with `{fields}` to fill in (letters, digits and `_`; "
    "`{{` and `}}` for literal braces). It appears in the Write tab's template list.": (
        "保存你自己的模板：在请求中用 `{fields}` 标出待填写的字段（字母、数字和 `_`；"
        "`{{` 和 `}}` 表示花括号本身）。保存后会出现在“写作”标签页的模板列表里。"
    ),
    "Saved templates": "已保存的模板",
    "launch_tweet": "launch_tweet",
    "Launch tweet": "发布推文",
    "Description (optional)": "描述（可选）",
    "Prompt with {fields}": "提示词（用 {fields} 标出字段）",
    "Overwrite a saved template with the same name": "覆盖同名的已保存模板",
    "Save template": "保存模板",
    "Saved template": "已保存的模板",
    "Perplexity": "困惑度",
    "How surprised is the model by a text? Perplexity is exp(mean negative log-likelihood per token); "
    "long texts are scored with a sliding window.": (
        "模型对一段文本有多“意外”？困惑度 = exp(每个 token 的平均负对数似然)；长文本用滑动窗口打分。"
    ),
    "Compute perplexity": "计算困惑度",
    "Teach the model your own format or voice with a LoRA adapter: a few MB of extra weights on the "
    "chosen model, trained here on this machine. Upload **JSONL** (`messages` chats, or "
    "`prompt`/`response`), **CSV** (`prompt,response`) or **plain text** (paragraphs, for a writing "
    "style). A tenth is held out to measure the result unless you upload a held-out file.": (
        "用 LoRA 适配器教模型学会你的格式或语气：在所选模型上增加几 MB 权重，就在本机训练。"
        "上传 **JSONL**（`messages` 对话，或 `prompt`/`response`）、**CSV**（`prompt,response`）"
        "或**纯文本**（按段落，用于学习写作风格）。除非你上传单独的验证文件，否则会留出十分之一用于评估效果。"
    ),
    "Held-out data (optional)": "验证数据（可选）",
    "Adapter name": "适配器名称",
    "lower-case letters, digits, - and _": "小写字母、数字、- 和 _",
    "house-json": "house-json",
    "Rank": "秩（rank）",
    "Alpha": "Alpha",
    "Learning rate": "学习率",
    "Batch size": "批大小",
    "Max tokens per example": "每个示例的最大 token 数",
    "Time budget (minutes, 0 = none)": "时间预算（分钟，0 = 不限）",
    "Base and adapter, side by side": "基础模型与适配器对比",
    "Worked example: shop listings → one strict JSON record (pick the tiny model for a 2-minute run)": (
        "完整示例：商品信息 → 一条严格的 JSON 记录（选小模型，约 2 分钟跑完）"
    ),
    "#### Saved adapters": "#### 已保存的适配器",
    "Adapters": "适配器",
    "Adapter": "适配器",
    "New name": "新名称",
    "Rename": "重命名",
    "Qwen2.5-Coder-0.5B (default) or SmolLM2-135M (tiny, fast)": "Qwen2.5-Coder-0.5B（默认）或 SmolLM2-135M（小而快）",
    "A LoRA adapter trained on this model (Train tab)": "在此模型上训练的 LoRA 适配器（“训练”标签页）",
    "(none: base model)": "（无：基础模型）",
    "Controls": "生成参数",
    "Max new tokens": "最多生成 token 数",
    "Temperature": "温度",
    "0 = greedy": "0 = 贪心解码",
    "Top-p": "Top-p",
    "Top-k": "Top-k",
    "0 = no limit": "0 = 不限",
    "Repetition penalty": "重复惩罚",
    "1 = none": "1 = 无",
    "-1 = random; the same number repeats the output (word for word in float32 precision)": (
        "-1 = 随机；相同数字会得到相同输出（float32 精度下逐字相同）"
    ),
    "Stop sequences": "停止序列",
    "The text ends before the first one that appears": "文本在第一个出现的停止序列之前结束",
    "One per line; \\n means a newline": "每行一个；\\n 表示换行",
    # ------------------------------------------------------------------ status
    "# Status\nThe shared model core, live. Refreshes every two seconds.": "# 运行状态\n共享模型核心的实时情况，每两秒刷新一次。",
    "### Models": "### 模型",
    "### Serving: requests, latency and batching per model": "### 服务：各模型的请求、延迟和批处理",
    "### Text generation: the continuous-batching loop\n"
    "Sequences decode together one token a step; new requests join at the next step and "
    "finished ones leave at once. Beyond the waiting limit a request is refused (HTTP 429).":
    "### 文本生成：连续批处理循环\n"
    "各序列一起解码，每步一个词元；新请求在下一步加入，完成的序列立即离开。"
    "等待数超过上限时，请求会被拒绝（HTTP 429）。",
    "### API usage per key (/v1, /api/v1)": "### 各密钥的 API 用量（/v1、/api/v1）",
    "### Cluster deployments (local): replicas, requests in flight, batches": "### 集群部署（本地）：副本、进行中的请求、批次",
    "### Cost: what the requests used, per app, per model and per hour": "### 成本：请求消耗的资源，按应用、模型和小时统计",
    "Per app": "按应用",
    "Per model": "按模型",
    "Per hour, app and model": "按小时、应用和模型",
    "Export costs as CSV": "导出成本 CSV",
    "Costs (CSV)": "成本（CSV）",
    "### Recent events": "### 最近事件",
    "Load or unload a model by hand": "手动加载或卸载模型",
}

# The speech page's language list, "Name (code)" as the page shows it.
_LANGUAGES = {
    "Afrikaans": "南非荷兰语", "Albanian": "阿尔巴尼亚语", "Amharic": "阿姆哈拉语", "Arabic": "阿拉伯语",
    "Armenian": "亚美尼亚语", "Assamese": "阿萨姆语", "Azerbaijani": "阿塞拜疆语", "Bashkir": "巴什基尔语",
    "Basque": "巴斯克语", "Belarusian": "白俄罗斯语", "Bengali": "孟加拉语", "Bosnian": "波斯尼亚语",
    "Breton": "布列塔尼语", "Bulgarian": "保加利亚语", "Cantonese": "粤语", "Catalan": "加泰罗尼亚语",
    "Chinese": "中文", "Croatian": "克罗地亚语", "Czech": "捷克语", "Danish": "丹麦语", "Dutch": "荷兰语",
    "English": "英语", "Estonian": "爱沙尼亚语", "Faroese": "法罗语", "Finnish": "芬兰语", "French": "法语",
    "Galician": "加利西亚语", "Georgian": "格鲁吉亚语", "German": "德语", "Greek": "希腊语",
    "Gujarati": "古吉拉特语", "Haitian Creole": "海地克里奥尔语", "Hausa": "豪萨语", "Hawaiian": "夏威夷语",
    "Hebrew": "希伯来语", "Hindi": "印地语", "Hungarian": "匈牙利语", "Icelandic": "冰岛语",
    "Indonesian": "印度尼西亚语", "Italian": "意大利语", "Japanese": "日语", "Javanese": "爪哇语",
    "Kannada": "卡纳达语", "Kazakh": "哈萨克语", "Khmer": "高棉语", "Korean": "韩语", "Lao": "老挝语",
    "Latin": "拉丁语", "Latvian": "拉脱维亚语", "Lingala": "林加拉语", "Lithuanian": "立陶宛语",
    "Luxembourgish": "卢森堡语", "Macedonian": "马其顿语", "Malagasy": "马达加斯加语", "Malay": "马来语",
    "Malayalam": "马拉雅拉姆语", "Maltese": "马耳他语", "Maori": "毛利语", "Marathi": "马拉地语",
    "Mongolian": "蒙古语", "Myanmar": "缅甸语", "Nepali": "尼泊尔语", "Norwegian": "挪威语",
    "Nynorsk": "新挪威语", "Occitan": "奥克语", "Pashto": "普什图语", "Persian": "波斯语", "Polish": "波兰语",
    "Portuguese": "葡萄牙语", "Punjabi": "旁遮普语", "Romanian": "罗马尼亚语", "Russian": "俄语",
    "Sanskrit": "梵语", "Serbian": "塞尔维亚语", "Shona": "绍纳语", "Sindhi": "信德语", "Sinhala": "僧伽罗语",
    "Slovak": "斯洛伐克语", "Slovenian": "斯洛文尼亚语", "Somali": "索马里语", "Spanish": "西班牙语",
    "Sundanese": "巽他语", "Swahili": "斯瓦希里语", "Swedish": "瑞典语", "Tagalog": "他加禄语",
    "Tajik": "塔吉克语", "Tamil": "泰米尔语", "Tatar": "鞑靼语", "Telugu": "泰卢固语", "Thai": "泰语",
    "Tibetan": "藏语", "Turkish": "土耳其语", "Turkmen": "土库曼语", "Ukrainian": "乌克兰语", "Urdu": "乌尔都语",
    "Uzbek": "乌兹别克语", "Vietnamese": "越南语", "Welsh": "威尔士语", "Yiddish": "意第绪语",
    "Yoruba": "约鲁巴语",
}


ZH.update(
    {
        f"{name.title()} ({code})": f"{_LANGUAGES[name.title()]}（{code}）"
        for code, name in WHISPER_LANGUAGES.items()
        if name.title() in _LANGUAGES
    }
)

# Explanations and token confidence (issue 19).
ZH.update(
    {
        "Ask a question to see the scores behind the answer.": "提一个问题，即可看到答案背后的得分。",
        "Colour the output by how sure the model was of each token": "按模型对每个词元的把握程度为输出着色",
        "Show confidence": "显示置信度",
        "Why this answer?": "为什么是这个答案？",
        "Your question: the words the entry also has": "您的问题：与该条目相同的词",
        "6. Why not?": "6. 为什么没推荐？",
        "Why not?": "为什么没推荐？",
        "Top-k cut-off": "前 k 名的分数线",
        "Why is an item not recommended to a user? Its rank among the items they have not seen, "
        "its score against the top-k cut-off, and the items in their history closest to it.": (
            "为什么某件商品没有推荐给某位用户？这里给出它在该用户未看过的商品中的排名、"
            "它的得分与前 k 名分数线的对比，以及该用户历史中与它最接近的商品。"
        ),
        "Show what the model looked at": "显示模型关注的区域",
        "A Grad-CAM heatmap of the top label (about 1.5x the time)": "最可能标签的 Grad-CAM 热力图（耗时约为 1.5 倍）",
        "What the model looked at": "模型关注的区域",
        # Word timestamps (issue 17).
        "Downloads (.txt, .srt, .vtt; .words.vtt with word timestamps)": "下载（.txt、.srt、.vtt；开启逐词时间戳时另有 .words.vtt）",
        "Time every word (a words table and word-timed .words.vtt subtitles); a little slower.": (
            "为每个词标注时间（生成逐词表格和逐词计时的 .words.vtt 字幕），稍慢一些。"
        ),
        "Word timestamps": "逐词时间戳",
        "Words": "逐词结果",
        # Live microphone transcription (issue 17).
        "### Live transcription\nSpeak into the microphone: the words appear while you speak (grey "
        "and *italic* while they may still change) and are final at each pause. Stop recording to "
        "finalise the rest.": (
            "### 实时转写\n对着麦克风说话：文字随说随出（灰色*斜体*的部分仍可能变化），每次停顿时定稿。"
            "停止录音即可将剩余部分定稿。"
        ),
        "Microphone": "麦克风",
        "Final text": "已定稿文本",
    }
)
