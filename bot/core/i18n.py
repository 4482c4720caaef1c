"""Interface texts in English, simplified and traditional Chinese.

Pure. `t(key, language, **values)` returns Telegram HTML; values are escaped by the caller.
A missing translation falls back to English, so a new text never breaks a chat.
"""

from __future__ import annotations

LANGUAGES = ("en", "zh-Hans", "zh-Hant")
LANGUAGE_NAMES = {"en": "English", "zh-Hans": "简体中文", "zh-Hant": "繁體中文"}

TEXTS: dict[str, dict[str, str]] = {
    "welcome": {
        "en": "👋 I send short alerts about headline events — deals, funding, launches, hires.\n\n"
        "Send /subscribe for every event, or narrow it down: "
        "<code>/subscribe acquisition Meta</code>. /help explains filters.\n"
        "Tap a button below to follow an event type or a company.",
        "zh-Hans": "👋 我会推送头条事件的简短提醒：并购、融资、发布、人事变动。\n\n"
        "发送 /subscribe 接收所有事件，或加上筛选条件："
        "<code>/subscribe acquisition Meta</code>。/help 说明筛选语法。\n"
        "点下面的按钮即可关注某类事件或某家公司。",
        "zh-Hant": "👋 我會推送頭條事件的簡短提醒：併購、融資、發佈、人事變動。\n\n"
        "發送 /subscribe 接收所有事件，或加上篩選條件："
        "<code>/subscribe acquisition Meta</code>。/help 說明篩選語法。\n"
        "點下面的按鈕即可關注某類事件或某家公司。",
    },
    "subscribed": {
        "en": "✅ Subscribed: {meaning}.\n{line}",
        "zh-Hans": "✅ 已订阅：{meaning}。\n{line}",
        "zh-Hant": "✅ 已訂閱：{meaning}。\n{line}",
    },
    "first_subscription": {
        "en": "Older articles are not sent; /latest {n} shows the newest ones.",
        "zh-Hans": "不会补发旧文章；/latest {n} 可查看最新文章。",
        "zh-Hant": "不會補發舊文章；/latest {n} 可查看最新文章。",
    },
    "did_you_mean": {
        "en": "🤔 <code>{word}</code> is not an event type, so it would be searched for as a "
        "word. Did you mean {badge}?\n<code>/subscribe {fixed}</code>\n"
        "To search for the word, put it in quotes: <code>/subscribe {quoted}</code>",
        "zh-Hans": "🤔 <code>{word}</code> 不是事件类型，会被当作词语搜索。你是想订阅 {badge} 吗？\n"
        "<code>/subscribe {fixed}</code>\n要搜索这个词，请加引号：<code>/subscribe {quoted}</code>",
        "zh-Hant": "🤔 <code>{word}</code> 不是事件類型，會被當作詞語搜尋。你是想訂閱 {badge} 嗎？\n"
        "<code>/subscribe {fixed}</code>\n要搜尋這個詞，請加引號：<code>/subscribe {quoted}</code>",
    },
    "already": {
        "en": "Already subscribed: {meaning}.",
        "zh-Hans": "已经订阅过：{meaning}。",
        "zh-Hant": "已經訂閱過：{meaning}。",
    },
    "filter_problem": {
        "en": "⚠️ {problem}\nSee /help for filters.",
        "zh-Hans": "⚠️ {problem}\n筛选语法见 /help。",
        "zh-Hant": "⚠️ {problem}\n篩選語法見 /help。",
    },
    "admins_only": {
        "en": "Only this group's admins can change its subscriptions.",
        "zh-Hans": "只有本群管理员可以修改订阅。",
        "zh-Hant": "只有本群管理員可以修改訂閱。",
    },
    "admins_only_settings": {
        "en": "Only this group's admins can change its settings.",
        "zh-Hans": "只有本群管理员可以修改设置。",
        "zh-Hant": "只有本群管理員可以修改設定。",
    },
    "timezone_current": {
        "en": "🕒 This chat's time zone: {zone}. Change it with <code>/tz Area/City</code>, "
        "e.g. <code>/tz Asia/Shanghai</code>.",
        "zh-Hans": "🕒 本聊天的时区：{zone}。用 <code>/tz 地区/城市</code> 修改，"
        "例如 <code>/tz Asia/Shanghai</code>。",
        "zh-Hant": "🕒 本聊天的時區：{zone}。用 <code>/tz 地區/城市</code> 修改，"
        "例如 <code>/tz Asia/Taipei</code>。",
    },
    "timezone_set": {
        "en": "🕒 Time zone: {zone}.",
        "zh-Hans": "🕒 时区：{zone}。",
        "zh-Hant": "🕒 時區：{zone}。",
    },
    "operators_only": {
        "en": "Sorry, that command is for the operators of this bot.",
        "zh-Hans": "抱歉，该命令仅限本机器人的管理者使用。",
        "zh-Hant": "抱歉，該命令僅限本機器人的管理者使用。",
    },
    "no_subscriptions": {
        "en": "No subscriptions here. Send /subscribe for every event, or /help for filters.",
        "zh-Hans": "这里还没有订阅。发送 /subscribe 接收所有事件，或 /help 查看筛选语法。",
        "zh-Hant": "這裡還沒有訂閱。發送 /subscribe 接收所有事件，或 /help 查看篩選語法。",
    },
    "subscriptions": {
        "en": "<b>Subscriptions</b>\n{lines}\n\nTap ✖ to remove one, or /unsubscribe and its filter.",
        "zh-Hans": "<b>订阅</b>\n{lines}\n\n点 ✖ 删除，或发送 /unsubscribe 加筛选条件。",
        "zh-Hant": "<b>訂閱</b>\n{lines}\n\n點 ✖ 刪除，或發送 /unsubscribe 加篩選條件。",
    },
    "filter_disabled": {
        "en": "⏸ This subscription no longer runs: {line}\n{problem}\n"
        "Subscribe again with a corrected filter, or /unsubscribe it.",
        "zh-Hans": "⏸ 这个订阅已停用：{line}\n{problem}\n"
        "请用修改后的筛选条件重新订阅，或 /unsubscribe 删除它。",
        "zh-Hant": "⏸ 這個訂閱已停用：{line}\n{problem}\n"
        "請用修改後的篩選條件重新訂閱，或 /unsubscribe 刪除它。",
    },
    "disabled_mark": {
        "en": "⏸ disabled: {problem}",
        "zh-Hans": "⏸ 已停用：{problem}",
        "zh-Hant": "⏸ 已停用：{problem}",
    },
    "and_more": {
        "en": "…and {n} more",
        "zh-Hans": "……另有 {n} 个",
        "zh-Hant": "……另有 {n} 個",
    },
    "too_many_subscriptions": {
        "en": "⚠️ This chat has {n} subscriptions, the most it may have. "
        "Remove one first: /list shows them.",
        "zh-Hans": "⚠️ 这个聊天已有 {n} 个订阅，已达上限。请先删除一个：/list 可查看。",
        "zh-Hant": "⚠️ 這個聊天已有 {n} 個訂閱，已達上限。請先刪除一個：/list 可查看。",
    },
    "language_set": {
        "en": "Language: English.",
        "zh-Hans": "语言：简体中文。",
        "zh-Hant": "語言：繁體中文。",
    },
    "language_usage": {
        "en": "Choose a language: <code>/lang en</code>, <code>/lang zh-Hans</code> (简体) or "
        "<code>/lang zh-Hant</code> (繁體).",
        "zh-Hans": "请选择语言：<code>/lang en</code>、<code>/lang zh-Hans</code>（简体）或 "
        "<code>/lang zh-Hant</code>（繁體）。",
        "zh-Hant": "請選擇語言：<code>/lang en</code>、<code>/lang zh-Hans</code>（简体）或 "
        "<code>/lang zh-Hant</code>（繁體）。",
    },
    "mode_usage": {
        "en": "⚠️ <code>/mode instant</code> or <code>/mode digest 08:30</code> "
        "(the time in this chat's zone, see /tz).",
        "zh-Hans": "⚠️ <code>/mode instant</code> 或 <code>/mode digest 08:30</code>"
        "（本聊天时区的时间，见 /tz）。",
        "zh-Hant": "⚠️ <code>/mode instant</code> 或 <code>/mode digest 08:30</code>"
        "（本聊天時區的時間，見 /tz）。",
    },
    "mode_instant": {
        "en": "Alerts arrive as events happen.",
        "zh-Hans": "事件发生时即时推送。",
        "zh-Hant": "事件發生時即時推送。",
    },
    "mode_digest": {
        "en": "One digest a day at {at} ({zone}).",
        "zh-Hans": "每天 {at}（{zone}）推送一次摘要。",
        "zh-Hant": "每天 {at}（{zone}）推送一次摘要。",
    },
    "quiet_set": {
        "en": "Quiet hours {quiet} ({zone}): alerts wait until they end.",
        "zh-Hans": "免打扰时段 {quiet}（{zone}）：期间的提醒将在结束后发送。",
        "zh-Hant": "免打擾時段 {quiet}（{zone}）：期間的提醒將在結束後發送。",
    },
    "quiet_off": {
        "en": "No quiet hours.",
        "zh-Hans": "已关闭免打扰。",
        "zh-Hant": "已關閉免打擾。",
    },
    "help": {
        "en": (
            "<b>Commands</b>\n"
            "/subscribe [filter] — alerts for matching events\n"
            "/unsubscribe [filter] — stop one subscription, or all without a filter\n"
            "/list — this chat's subscriptions, with buttons to remove them\n"
            "/latest [n] — the newest articles and their events (up to {latest_max})\n"
            "/mode instant | digest [HH:MM] — alerts as they come, or one digest a day\n"
            "/quiet HH:MM-HH:MM | off — hold alerts during quiet hours\n"
            "/tz Area/City — the time zone of the digest and quiet hours (alone: shows it)\n"
            "/lang en | zh-Hans | zh-Hant — language and Chinese script\n"
            "/template text | off — your own message layout\n"
            "\n"
            "<b>Filters</b>\n"
            "• an event type: <code>acquisition funding</code> (either)\n"
            '• a company or person: <code>Meta</code>, <code>"Scale AI"</code> (any of them)\n'
            "• other words must all appear: <code>robot</code>\n"
            "• <code>-word</code> leaves out a type, name or word: <code>-rumor</code>\n"
            "• <code>#tag</code> an article category or tag; <code>-#tag</code> leaves it out\n"
            "• <code>amount&gt;=1B</code>, <code>amount&lt;500M</code>, <code>amount&gt;=1亿</code>\n"
            "• <code>/pattern/</code> a regular expression, e.g. <code>/rais(es|ed)/</code>\n"
            "Example: <code>/subscribe acquisition amount&gt;=1B -rumor</code>\n"
            "\n"
            "<b>Template placeholders</b>\n"
            "{placeholders}\n"
            "\n"
            "<b>Event types</b>\n"
            "{types}"
        ),
        "zh-Hans": (
            "<b>命令</b>\n"
            "/subscribe [筛选] — 订阅符合条件的事件提醒\n"
            "/unsubscribe [筛选] — 取消一个订阅；不带筛选则全部取消\n"
            "/list — 本聊天的订阅，可用按钮删除\n"
            "/latest [n] — 最新文章及其事件（最多 {latest_max} 篇）\n"
            "/mode instant | digest [HH:MM] — 即时提醒，或每天一份摘要\n"
            "/quiet HH:MM-HH:MM | off — 免打扰时段内暂缓提醒\n"
            "/tz 地区/城市 — 摘要和免打扰使用的时区（不带参数：显示当前时区）\n"
            "/lang en | zh-Hans | zh-Hant — 界面语言和中文字形\n"
            "/template 文本 | off — 自定义消息格式\n"
            "\n"
            "<b>筛选</b>\n"
            "• 事件类型：<code>acquisition funding</code>（任一即可）\n"
            '• 公司或人物：<code>Meta</code>、<code>"Scale AI"</code>（任一即可）\n'
            "• 其他词语须全部出现：<code>机器人</code>\n"
            "• <code>-词语</code> 排除某类型、名称或词语：<code>-传闻</code>\n"
            "• <code>#标签</code> 文章分类或标签；<code>-#标签</code> 排除\n"
            "• <code>amount&gt;=1B</code>、<code>amount&lt;500M</code>、<code>amount&gt;=1亿</code>\n"
            "• <code>/模式/</code> 正则表达式，例如 <code>/rais(es|ed)/</code>\n"
            "示例：<code>/subscribe acquisition amount&gt;=1B -rumor</code>\n"
            "\n"
            "<b>模板占位符</b>\n"
            "{placeholders}\n"
            "\n"
            "<b>事件类型</b>\n"
            "{types}"
        ),
        "zh-Hant": (
            "<b>命令</b>\n"
            "/subscribe [篩選] — 訂閱符合條件的事件提醒\n"
            "/unsubscribe [篩選] — 取消一個訂閱；不帶篩選則全部取消\n"
            "/list — 本聊天的訂閱，可用按鈕刪除\n"
            "/latest [n] — 最新文章及其事件（最多 {latest_max} 篇）\n"
            "/mode instant | digest [HH:MM] — 即時提醒，或每天一份摘要\n"
            "/quiet HH:MM-HH:MM | off — 免打擾時段內暫緩提醒\n"
            "/tz 地區/城市 — 摘要和免打擾使用的時區（不帶參數：顯示目前時區）\n"
            "/lang en | zh-Hans | zh-Hant — 介面語言和中文字形\n"
            "/template 文本 | off — 自定義訊息格式\n"
            "\n"
            "<b>篩選</b>\n"
            "• 事件型別：<code>acquisition funding</code>（任一即可）\n"
            '• 公司或人物：<code>Meta</code>、<code>"Scale AI"</code>（任一即可）\n'
            "• 其他詞語須全部出現：<code>機器人</code>\n"
            "• <code>-詞語</code> 排除某型別、名稱或詞語：<code>-傳聞</code>\n"
            "• <code>#標籤</code> 文章分類或標籤；<code>-#標籤</code> 排除\n"
            "• <code>amount&gt;=1B</code>、<code>amount&lt;500M</code>、<code>amount&gt;=1億</code>\n"
            "• <code>/模式/</code> 正規表示式，例如 <code>/rais(es|ed)/</code>\n"
            "示例：<code>/subscribe acquisition amount&gt;=1B -rumor</code>\n"
            "\n"
            "<b>模板佔位符</b>\n"
            "{placeholders}\n"
            "\n"
            "<b>事件型別</b>\n"
            "{types}"
        ),
    },
    "latest_usage": {
        "en": "⚠️ Give a number from 1 to {n}. For example: <code>/latest 10</code>",
        "zh-Hans": "⚠️ 请给出 1 到 {n} 之间的数字。例如：<code>/latest 10</code>",
        "zh-Hant": "⚠️ 請給出 1 到 {n} 之間的數字。例如：<code>/latest 10</code>",
    },
    "everything": {"en": "everything", "zh-Hans": "所有事件", "zh-Hant": "所有事件"},
    "everything_line": {
        "en": "everything (<code>/subscribe</code>)",
        "zh-Hans": "所有事件（<code>/subscribe</code>）",
        "zh-Hant": "所有事件（<code>/subscribe</code>）",
    },
    "removed": {
        "en": "Removed {count}.",
        "zh-Hans": "已删除 {n} 个订阅。",
        "zh-Hant": "已刪除 {n} 個訂閱。",
    },
    "nothing_to_remove": {
        "en": "There were no subscriptions here.",
        "zh-Hans": "这里本来就没有订阅。",
        "zh-Hant": "這裡本來就沒有訂閱。",
    },
    "no_such_subscription": {
        "en": "No subscription <code>{wanted}</code> here. This chat has:\n",
        "zh-Hans": "这里没有订阅 <code>{wanted}</code>。本聊天的订阅：\n",
        "zh-Hant": "這裡沒有訂閱 <code>{wanted}</code>。本聊天的訂閱：\n",
    },
    "none": {"en": "(none)", "zh-Hans": "（无）", "zh-Hant": "（無）"},
    "unsubscribed": {
        "en": "Unsubscribed: {line}",
        "zh-Hans": "已取消订阅：{line}",
        "zh-Hant": "已取消訂閱：{line}",
    },
    "quiet_example": {
        "en": "⚠️ For example: <code>/quiet 22:00-07:00</code>",
        "zh-Hans": "⚠️ 例如：<code>/quiet 22:00-07:00</code>",
        "zh-Hant": "⚠️ 例如：<code>/quiet 22:00-07:00</code>",
    },
    "template_current": {
        "en": "Template: <code>{template}</code>\nPlaceholders: {names}",
        "zh-Hans": "模板：<code>{template}</code>\n占位符：{names}",
        "zh-Hant": "模板：<code>{template}</code>\n佔位符：{names}",
    },
    "template_set": {
        "en": "✅ Template set.",
        "zh-Hans": "✅ 模板已设置。",
        "zh-Hant": "✅ 模板已設定。",
    },
    "template_default": {
        "en": "✅ Default template.",
        "zh-Hans": "✅ 已恢复默认模板。",
        "zh-Hant": "✅ 已恢復預設模板。",
    },
    "toggled_on": {
        "en": "Following {name}",
        "zh-Hans": "已关注 {name}",
        "zh-Hant": "已關注 {name}",
    },
    "toggled_off": {
        "en": "Stopped following {name}",
        "zh-Hans": "已取消关注 {name}",
        "zh-Hant": "已取消關注 {name}",
    },
}


def t(key: str, language: str | None, **values: object) -> str:
    """The text `key` in `language` (English when missing), with `values` filled in."""
    texts = TEXTS[key]
    return texts.get(language or "en", texts["en"]).format(**values)


def language_from_code(code: str | None) -> str:
    """A Telegram user's language_code → one of LANGUAGES ("zh-TW" → zh-Hant, "zh" → zh-Hans)."""
    if not code:
        return "en"
    folded = code.replace("_", "-").casefold()
    if folded.startswith("zh"):
        traditional = ("hant", "tw", "hk", "mo")
        return "zh-Hant" if any(part in folded for part in traditional) else "zh-Hans"
    return "en"


def parse_language(text: str) -> str | None:
    """What the user typed after /lang → a language, or None when it is not one we speak."""
    folded = text.strip().casefold().replace("_", "-")
    aliases = {
        "en": "en", "english": "en",
        "zh-hans": "zh-Hans", "zh-cn": "zh-Hans", "zh": "zh-Hans", "简体": "zh-Hans",
        "简体中文": "zh-Hans", "cn": "zh-Hans",
        "zh-hant": "zh-Hant", "zh-tw": "zh-Hant", "zh-hk": "zh-Hant", "繁體": "zh-Hant",
        "繁體中文": "zh-Hant", "繁体": "zh-Hant", "tw": "zh-Hant",
    }  # fmt: skip
    return aliases.get(folded)
