"""Python SDK for billbook's customer API (also works against the upstream WaveSpeedAI service).

    from billbook.client import Client

    with Client() as client:                      # BILLBOOK_BASE_URL, BILLBOOK_API_KEY
        print(client.balance().balance)           # Decimal('156.78')
        for record in client.billings.iter(billing_type="deduct"):
            print(record.created_at, record.price)
        for model in client.models.list():        # the price catalog, in catalog order
            print(model.model_id, client.models.price(model.model_id).discounted_price)

The operator's side (an admin token; every write safe to retry):

    from billbook.client import OperatorClient

    with OperatorClient() as ops:                 # BILLBOOK_BASE_URL, BILLBOOK_ADMIN_TOKEN
        ops.charge(prediction_uuid, access_key_id, "bytedance/seedream-v4.5", "0.04")
        ops.set_status(prediction_uuid, "completed")

Needs only httpx: importing it never pulls in the server's stack.
"""

from billbook.client._billings import (
    AsyncBillingIterator,
    AsyncBillings,
    BillingIterator,
    Billings,
    ExportResult,
)
from billbook.client._client import AsyncClient, Client
from billbook.client._core import DEFAULT_BASE_URL
from billbook.client._export import CSV_COLUMNS
from billbook.client._models import AsyncModels, Models
from billbook.client._operator import AsyncOperatorClient, OperatorClient, Page
from billbook.client._query import SearchParams
from billbook.client._webhooks import AsyncWebhooks, Webhooks
from billbook.client._statements import AsyncReceipts, AsyncStatements, Receipts, Statements
from billbook.client.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BillbookClientError,
    ConfigurationError,
    ConflictError,
    InsufficientBalanceError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
    SpendLimitError,
)
from billbook.client._limits import AccessKey, Alerts, SpendLimits, Windows
from billbook.client.types import (
    Balance,
    BillingPage,
    BillingRecord,
    BillingType,
    CatalogModel,
    DailyModelUsage,
    DeliveryPage,
    EdgeRecord,
    ModelCharges,
    DailyUsage,
    ModelUsage,
    Order,
    Prediction,
    PriceQuote,
    RotatedSecret,
    SortOrder,
    Statement,
    UsageStats,
    UsageSummary,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AccessKey",
    "Alerts",
    "AsyncBillingIterator",
    "AsyncBillings",
    "AsyncClient",
    "AsyncModels",
    "AsyncOperatorClient",
    "AsyncReceipts",
    "AsyncStatements",
    "AsyncWebhooks",
    "AuthenticationError",
    "Balance",
    "BillbookClientError",
    "BillingIterator",
    "BillingPage",
    "BillingRecord",
    "BillingType",
    "Billings",
    "CSV_COLUMNS",
    "CatalogModel",
    "Client",
    "ConfigurationError",
    "ConflictError",
    "DEFAULT_BASE_URL",
    "DailyModelUsage",
    "DailyUsage",
    "DeliveryPage",
    "EdgeRecord",
    "ExportResult",
    "InsufficientBalanceError",
    "InvalidRequestError",
    "ModelCharges",
    "ModelUsage",
    "Models",
    "NotFoundError",
    "OperatorClient",
    "Order",
    "Page",
    "Prediction",
    "PriceQuote",
    "RateLimitError",
    "Receipts",
    "RotatedSecret",
    "SearchParams",
    "ServerError",
    "SortOrder",
    "SpendLimitError",
    "SpendLimits",
    "Statement",
    "Statements",
    "UsageStats",
    "UsageSummary",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "Webhooks",
    "Windows",
]
