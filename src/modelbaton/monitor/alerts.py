"""Alerts to a webhook: a signed JSON body with a Slack-compatible `text` field.

The body is the JSON document below; its HMAC-SHA256 under a shared secret is sent in the
`X-Baton-Signature-256` header as ``sha256=<hex>`` (the scheme GitHub uses), so the
receiver can check that the alert came from its monitor and was not altered. The secret
comes from an environment variable and is never printed, logged or stored. `sent_at` in
the signed body lets a receiver refuse replays.

    {"text": "...", "event": "alert" | "resolved", "model": ..., "version": ...,
     "digest": ..., "window": {...}, "rows": n, "alerts": [...], "drift_share": 0.5,
     "drifted": [...], "retraining": {"due": bool, "triggers": [...], "procedure": ...},
     "paged": ..., "sent_at": "2026-05-01T12:00:00Z"}

Slack incoming webhooks read `text` (mrkdwn) and ignore the rest.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from ..contract.errors import BatonError
from ._time import iso, utc_now
from .drift import DriftReport

SIGNATURE_HEADER = "X-Baton-Signature-256"
USER_AGENT = "baton-monitor"
ATTEMPTS = 3
BACKOFF_S = 1.0  # then 2 s: a receiver restarting gets a moment


class DeliveryError(BatonError):
    """The webhook did not accept the alert."""


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, secret: str, header: str | None) -> bool:
    """For receivers: does `header` carry the signature of exactly this body?"""
    return bool(header) and hmac.compare_digest(sign(body, secret), header or "")


def alert_payload(report: DriftReport, *, event: str = "alert",
                  paged: str | None = None) -> dict[str, Any]:
    package = report.package
    return {
        "text": slack_text(report, event=event, paged=paged), "event": event,
        "model": package.get("name"), "version": package.get("version"),
        "digest": package.get("digest"), "window": report.source.get("window"),
        "rows": report.rows, "alerts": report.alerts, "drift_share": report.drift_share,
        "drifted": report.drifted,
        "retraining": {"due": bool(report.retraining), "triggers": report.retraining,
                       "procedure": report.procedure},
        "paged": paged, "sent_at": iso(utc_now()),
    }


def slack_text(report: DriftReport, *, event: str = "alert", paged: str | None = None) -> str:
    package = report.package
    name = f"{package.get('name')} {package.get('version')}"
    window = report.source.get("window")
    span = f" ({window['start']} to {window['end']}, {report.rows:,} rows)" if window \
        else f" ({report.rows:,} rows)"
    if event == "resolved":
        return f":white_check_mark: *{name}*: drift alert resolved{span}"
    lines = [f":rotating_light: *{name}*: drift alert{span}"]
    lines += [f"• {alert}" for alert in report.alerts]
    if report.retraining:
        lines.append("*Retraining is due*: " + "; ".join(report.retraining))
        lines.append(f"Procedure: {report.procedure}")
    if paged:
        lines.append(f"Paged: {paged}")
    return "\n".join(lines)


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BatonError(f"--webhook '{url}' is not an http(s) URL",
                         hint="e.g. https://hooks.slack.com/services/... or your receiver")
    return url


def post(url: str, payload: dict[str, Any], secret: str, *, timeout: float = 10.0) -> int:
    """POST the signed payload; retries on network errors, 429 and 5xx; returns the status."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               SIGNATURE_HEADER: sign(body, secret)}
    problem = ""
    for attempt in range(ATTEMPTS):
        request = urllib.request.Request(check_url(url), data=body, headers=headers,
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code}"
            if exc.code < 500 and exc.code != 429:
                break  # the receiver refused it; sending it again changes nothing
        except (urllib.error.URLError, OSError) as exc:
            problem = str(getattr(exc, "reason", exc))
        if attempt + 1 < ATTEMPTS:
            time.sleep(BACKOFF_S * 2 ** attempt)
    raise DeliveryError(f"the webhook {_host(url)} did not accept the alert ({problem})",
                        hint="check the URL and the receiver; the alert is also in the "
                             "output and the baton_drift_alert metric")


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"  # never the path: Slack's holds its secret
