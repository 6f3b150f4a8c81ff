"""The business error catalogue: code -> HTTP status -> meaning -> whether to retry.

The code, not the HTTP status, decides what a client may do: a 429 with 1113 (balance empty) must
never be retried, a 429 with 1302 (rate limit) should be, after a back-off.

Messages are the api.z.ai English texts and the open.bigmodel.cn Chinese texts, as recorded in
real traffic where a recording exists, else as the error-code pages of docs.z.ai and
docs.bigmodel.cn give them. Where the HTTP status is not documented (the account codes) it is
inferred from the status table's "429/403 account anomaly" rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Retry(StrEnum):
    NEVER = "never"
    BACKOFF = "backoff"
    AFTER_RESET = "after_reset"


@dataclass(frozen=True, slots=True)
class BusinessError:
    code: str
    http_status: int
    meaning: str
    retry: Retry
    message_en: str
    message_zh: str

    def message(self, locale: str = "en", **fields: object) -> str:
        template = self.message_zh if locale == "zh" else self.message_en
        return template.format(**fields)

    @property
    def retryable(self) -> bool:
        return self.retry is Retry.BACKOFF


def _e(code: str, status: int, meaning: str, retry: Retry, en: str, zh: str) -> BusinessError:
    return BusinessError(code, status, meaning, retry, en, zh)


N, B, L = Retry.NEVER, Retry.BACKOFF, Retry.AFTER_RESET

CATALOGUE: dict[str, BusinessError] = {
    e.code: e
    for e in (
        _e("1000", 401, "authentication failed", N,
           "Authentication Failed", "身份验证失败。"),
        _e("1001", 401, "Authorization header missing", N,
           "Authorization Token Missing", "Header中未收到Authorization参数，无法进行身份验证。"),
        _e("1002", 401, "token invalid", N,
           "Authorization Token is invalid, please ensure that the Authorization Token is "
           "correctly provided.", "Authorization Token非法，请确认Authorization Token正确传递。"),
        _e("1003", 401, "token expired", N,
           "Authentication Token expired, please regenerate/obtain",
           "Authentication Token 已过期，请重新生成/获取"),
        _e("1004", 401, "authentication failed with the token", N,
           "Authentication failed with the provided Authentication Token",
           "通过 Authentication Token 的验证失败"),
        _e("1110", 403, "account inactive", N,
           "Your account is currently inactive. Please check your account information",
           "您的账户当前处于非活动状态，请检查账户信息。"),
        _e("1111", 403, "account does not exist", N,
           "Your account does not exist.", "您的账户不存在。"),
        _e("1112", 403, "account locked", N,
           "Your account has been locked, please contact customer service to unlock it.",
           "您的账户已被锁定，请联系客服解锁。"),
        _e("1113", 429, "balance insufficient or no resource package", N,
           "Insufficient balance or no resource package. Please recharge.",
           "余额不足或无可用资源包,请充值。"),
        _e("1120", 403, "account access abnormal", N,
           "Unable to successfully access your account, please try again later",
           "您的账户无法成功访问，请稍后重试。"),
        _e("1210", 400, "invalid parameter", N,
           "Invalid API parameter, please check the documentation.", "API 调用参数有误，请检查文档。"),
        _e("1211", 400, "model does not exist", N,
           "Unknown Model, please check the model code.", "模型不存在，请检查模型代码。"),
        _e("1212", 400, "method not supported by the model", N,
           "The current model does not support the {method} call method.",
           "当前模型不支持{method}调用方式。"),
        _e("1213", 400, "prompt not received", N,
           "The prompt parameter was not received normally", "未正常接收到prompt参数。"),
        _e("1214", 400, "messages parameter invalid", N,
           "The messages parameter is illegal. Please check the documentation.",
           "messages 参数非法。请检查文档。"),
        _e("1220", 403, "no permission for this model", N,
           "You do not have permission to access {model}.", "您无权访问{model}。"),
        _e("1261", 400, "prompt exceeds the context window", N,
           "Prompt exceeds max length", "Prompt 超长"),
        _e("1301", 400, "unsafe content blocked", N,
           "The system detected potentially unsafe or sensitive content in input or generation.",
           "系统检测到输入或生成内容可能包含不安全或敏感内容，请您避免输入易产生敏感内容的提示语，"
           "感谢您的配合。"),
        _e("1302", 429, "rate limit or concurrency reached", B,
           "Rate limit reached for requests", "您的账户已达到速率限制，请您控制请求频率"),
        _e("1303", 429, "request frequency too high", B,
           "High frequency of API requests, please reduce frequency or contact customer service.",
           "您当前使用该API的频率过高，请降低频率，或联系客服增加限额。"),
        _e("1304", 429, "daily call limit reached", L,
           "The daily call limit of this API has been reached.",
           "该API已达今日调用次数限额，如有更多需求，请联系客服购买。"),
        _e("1305", 429, "service overloaded", B,
           "The service may be temporarily overloaded, please try again later",
           "该模型当前访问量过大，请您稍后再试"),
        _e("1308", 429, "usage quota of the plan reached", L,
           "Usage limit reached for {period}. Your limit will reset at {reset_at}",
           "已达到 {period} 的使用上限。您的限额将在 {reset_at} 重置。"),
        _e("1309", 429, "GLM Coding Plan expired", N,
           "Your GLM Coding Plan package has expired and is temporarily unavailable.",
           "您的 GLM Coding Plan 套餐已过期，暂时无法使用。"),
        _e("1310", 429, "weekly/monthly quota of the plan reached", L,
           "Weekly/Monthly Limit Exhausted. Your limit will reset at {reset_at}",
           "每周/每月使用上限已用完。您的限额将在 {reset_at} 重置。"),
        _e("1200", 500, "API call error", B, "API Call Error", "API 调用错误"),
        _e("1234", 500, "network error", B,
           "Network error, error id: {error_id}, please try again later",
           "网络错误，错误id：{error_id}，请稍后重试"),
        _e("500", 500, "internal server error", B, "Internal Error", "内部错误"),
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
CONCURRENCY_MESSAGE_EN = (
    "High concurrency usage of this API, please reduce concurrency or contact customer service "
    "to increase limits"
)


def code_for_invalid(param: str) -> str:
    """The business code GLM answers when `param` breaks the contract (recorded codes)."""
    return {"model": "1211", "messages": "1214"}.get(param, "1210")
