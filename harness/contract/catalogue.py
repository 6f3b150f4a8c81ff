"""The business error catalogue: code -> HTTP status -> meaning -> whether to retry.

The code, not the HTTP status, decides what a client may do: a 429 with 1113 (balance empty) must
never be retried, a 429 with 1302 (rate limit) should be, after a back-off.

Messages come in two locales: English from api.z.ai, Chinese from open.bigmodel.cn. Each text says
where it comes from: *recorded* (a real error body, with its date) or *documented* (the error-code
pages of docs.z.ai / docs.bigmodel.cn). Where a locale is known from neither, it is left out, and
`message()` falls back to the locale that is known rather than invent a translation. Where the
HTTP status is not documented (the account codes) it is inferred from the status table's
"429/403 account anomaly" rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Retry(StrEnum):
    NEVER = "never"
    BACKOFF = "backoff"
    AFTER_RESET = "after_reset"


@dataclass(frozen=True, slots=True)
class Text:
    """A message template and where it was read."""

    template: str
    source: str

    @property
    def recorded(self) -> bool:
        return self.source.startswith("recorded")


def recorded(template: str, when: str) -> Text:
    return Text(template, f"recorded {when}")


def documented(template: str) -> Text:
    return Text(template, "documented (docs.z.ai / docs.bigmodel.cn error codes)")


@dataclass(frozen=True, slots=True)
class BusinessError:
    code: str
    http_status: int
    meaning: str
    retry: Retry
    en: Text | None
    zh: Text | None
    status_source: str = "documented"

    def message(self, locale: str = "en", **fields: object) -> str:
        """The message in `locale`, or in the one locale known (see `locales`)."""
        chosen = (self.zh or self.en) if locale == "zh" else (self.en or self.zh)
        assert chosen is not None, self.code
        return chosen.template.format(**fields)

    @property
    def locales(self) -> tuple[str, ...]:
        return tuple(name for name, text in (("en", self.en), ("zh", self.zh)) if text is not None)

    @property
    def message_en(self) -> str | None:
        return self.en.template if self.en else None

    @property
    def message_zh(self) -> str | None:
        return self.zh.template if self.zh else None

    @property
    def retryable(self) -> bool:
        return self.retry is Retry.BACKOFF


def _e(code: str, status: int, meaning: str, retry: Retry, en: Text | None, zh: Text | None,
       status_source: str = "documented") -> BusinessError:
    return BusinessError(code, status, meaning, retry, en, zh, status_source)


N, B, L = Retry.NEVER, Retry.BACKOFF, Retry.AFTER_RESET
CODING_PLAN_AUTH_CODE = "401"
D = documented
ZAI_2026 = "2026-10-09 (RarogCmex/pi-bigmodel, LIVE)"
BIGMODEL_2026 = "2026-10-09 (open.bigmodel.cn, RarogCmex/pi-bigmodel LIVE)"
CODING_2026 = "2026-05-07 (open.bigmodel.cn coding endpoint, shared/real-traffic-2026)"

CATALOGUE: dict[str, BusinessError] = {
    e.code: e
    for e in (
        _e("1000", 401, "authentication failed", N,
           D("Authentication Failed"), recorded("身份验证失败。", BIGMODEL_2026), "recorded"),
        _e("1001", 401, "Authorization header missing", N,
           recorded("Authorization Token Missing", "2025-10 (api.z.ai GET, brunogama/dotfiles)"),
           D("Header中未收到Authorization参数，无法进行身份验证。")),
        _e("1002", 401, "token invalid", N,
           recorded("Authorization Token is invalid, please ensure that the Authorization Token is "
                    "correctly provided.", "docs.z.ai curl example (2024-03-20)"),
           D("Authorization Token非法，请确认Authorization Token正确传递。"), "recorded"),
        _e("1003", 401, "token expired", N,
           D("Authentication Token expired, please regenerate/obtain"),
           D("Authentication Token 已过期，请重新生成/获取")),
        _e("1004", 401, "authentication failed with the token", N,
           D("Authentication failed with the provided Authentication Token"),
           D("通过 Authentication Token 的验证失败")),
        _e("1110", 403, "account inactive", N,
           D("Your account is currently inactive. Please check your account information"),
           D("您的账户当前处于非活动状态，请检查账户信息。"), "inferred"),
        _e("1111", 403, "account does not exist", N,
           D("Your account does not exist."), D("您的账户不存在。"), "inferred"),
        _e("1112", 403, "account locked", N,
           D("Your account has been locked, please contact customer service to unlock it."),
           D("您的账户已被锁定，请联系客服解锁。"), "inferred"),
        _e("1113", 429, "balance insufficient or no resource package", N,
           D("Insufficient balance or no resource package. Please recharge."),
           recorded("余额不足或无可用资源包,请充值。", BIGMODEL_2026), "recorded"),
        _e("1120", 403, "account access abnormal", N,
           D("Unable to successfully access your account, please try again later"),
           D("您的账户无法成功访问，请稍后重试。"), "inferred"),
        _e("1210", 400, "invalid parameter", N,
           D("Invalid API parameter, please check the documentation."),
           recorded("API 调用参数有误，请检查文档。", CODING_2026 + ", a tool without a name"), "recorded"),
        _e("1211", 400, "model does not exist", N,
           D("Unknown Model, please check the model code."),
           recorded("模型不存在，请检查模型代码。", BIGMODEL_2026), "recorded"),
        _e("1212", 400, "method not supported by the model", N,
           D("The current model does not support the {method} call method."),
           D("当前模型不支持{method}调用方式。")),
        _e("1213", 400, "prompt not received", N,
           D("The prompt parameter was not received normally"), D("未正常接收到prompt参数。")),
        _e("1214", 400, "messages parameter invalid", N,
           D("The messages parameter is illegal. Please check the documentation."),
           D("messages 参数非法。请检查文档。"), "recorded"),
        _e("1220", 403, "no permission for this model", N,
           D("You do not have permission to access {model}."), D("您无权访问{model}。")),
        _e("1261", 400, "prompt exceeds the context window", N,
           recorded("Prompt exceeds max length", ZAI_2026), D("Prompt 超长"), "recorded"),
        # 1301 bodies add a top-level `contentFilter` field (see error.py).
        _e("1301", 400, "unsafe content blocked", N,
           D("The system has detected that the input or generated content may contain unsafe or "
             "sensitive content. Please avoid inputting prompts that are likely to produce sensitive "
             "content. Thank you for your cooperation."),
           recorded("系统检测到输入或生成内容可能包含不安全或敏感内容，请您避免输入易产生敏感内容的提示语，"
                    "感谢您的配合。", "2024-08 (open.bigmodel.cn, HTTP 400, quoted on ithelp.ithome.com.tw)"),
           "recorded"),
        _e("1302", 429, "rate limit or concurrency reached", B,
           recorded("Rate limit reached for requests", "2025 (ltmoerdani/zai-copilot-chat log)"),
           recorded("您的账户已达到速率限制，请您控制请求频率", CODING_2026 + ", glm-4.7-flash"), "recorded"),
        _e("1303", 429, "request frequency too high", B,
           D("High frequency of API requests, please reduce frequency or contact customer service."),
           D("您当前使用该API的频率过高，请降低频率，或联系客服增加限额。")),
        _e("1304", 429, "daily call limit reached", L,
           D("The daily call limit of this API has been reached."),
           D("该API已达今日调用次数限额，如有更多需求，请联系客服购买。")),
        _e("1305", 429, "service overloaded", B,
           D("The service may be temporarily overloaded, please try again later"),
           recorded("该模型当前访问量过大，请您稍后再试", BIGMODEL_2026 + ", glm-4.7-flash"), "recorded"),
        # The Coding Plan's 5-hour window: `period` is "5 hour" (en), "5 小时" (zh).
        _e("1308", 429, "usage quota of the plan reached", L,
           recorded("Usage limit reached for {period}. Your limit will reset at {reset_at}",
                    "2026 (Coding Plan, shared/real-traffic-2026 README: \"5 hour\")"),
           D("已达到 {period} 的使用上限。您的限额将在 {reset_at} 重置。"), "recorded"),
        _e("1309", 429, "GLM Coding Plan expired", N,
           D("Your GLM Coding Plan package has expired and is temporarily unavailable."),
           D("您的 GLM Coding Plan 套餐已过期，暂时无法使用。")),
        # Only the English text is known; the Chinese one has not been seen.
        _e("1310", 429, "weekly/monthly quota of the plan reached", L,
           recorded("Weekly/Monthly Limit Exhausted. Your limit will reset at {reset_at}",
                    "2026-09-20 (api.z.ai coding plan, glm-5.3-flash, HTTP 429)"), None, "recorded"),
        # The Coding Plan endpoint's answer to a key it does not accept (HTTP 401, code "401").
        _e(CODING_PLAN_AUTH_CODE, 401, "token expired or invalid (Coding Plan endpoint)", N, None,
           recorded("令牌已过期或验证不正确", CODING_2026 + ", key invalid_key_xxx"), "recorded"),
        _e("1200", 500, "API call error", B, D("API Call Error"), D("API 调用错误")),
        # Recorded with HTTP 500, 2026-03-13; the docs end it "please try again later".
        _e("1234", 500, "network error", B,
           recorded("Network error, error id: {error_id}, please contact customer service",
                    "2026-03-13 (api.z.ai, HTTP 500)"), None, "recorded"),
        _e("500", 500, "internal server error", B, D("Internal Error"), D("内部错误")),
    )
}


def business_error(code: str | int) -> BusinessError | None:
    return CATALOGUE.get(str(code))


def is_retryable(status: int, code: str | None) -> bool:
    """Whether a client should try again after a back-off; the code outranks the status."""
    known = business_error(code) if code is not None else None
    if known is not None:
        return known.retryable
    return status == 429 or status >= 500


# Recorded: "The max_tokens parameter is illegal.：限制数值范围[1,131072]" (api.z.ai, full-width
# colon) and "max_tokens参数非法：限制数值范围[1,98304]" (open.bigmodel.cn).
def invalid_parameter_message(param: str, detail: str | None, locale: str = "en") -> str:
    head = f"{param}参数非法" if locale == "zh" else f"The {param} parameter is illegal"
    if detail is None:
        return head if locale == "zh" else head + "."
    return f"{head}：{detail}" if locale == "zh" else f"{head}.：{detail}"


def range_detail(low: float, high: float) -> str:
    return f"限制数值范围[{low:g},{high:g}]"


DECIMALS_DETAIL = "限制小数点[2]位"
THINKING_ALWAYS_ON_DETAIL = "该模型始终思考，不支持关闭思考；请使用 low、high 或 max。"
ROLE_INVALID_MESSAGE = "角色信息不正确"
EMPTY_INPUT_MESSAGE = "输入不能为空"  # 1214 for `messages: []`, recorded 2026-05-07 (coding endpoint)
FIVE_HOURS = {"en": "5 hour", "zh": "5 小时"}  # 1308's period on the Coding Plan
CONCURRENCY_MESSAGE_EN = (
    "High concurrency usage of this API, please reduce concurrency or contact customer service "
    "to increase limits"
)


def code_for_invalid(param: str) -> str:
    """The business code GLM answers when `param` breaks the contract (recorded codes)."""
    return {"model": "1211", "messages": "1214"}.get(param, "1210")
