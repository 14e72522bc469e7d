"""The README tour's API steps, through a Python client generated from /openapi.json.

Run by .ci/openapi against a real server: a webhook to a real receiver, a trigger that
notifies it, a ticket and the update that fires it, the invocation log, a replay and an
inbound webhook. Every call goes through the generated client's functions and models; a
step that fails or answers unexpectedly exits non-zero.
"""

import http.server
import sys
import threading
import time

import httpx
from hookdesk_client import AuthenticatedClient
from hookdesk_client.api.inbound_webhooks import create_inbound_webhook, list_calls
from hookdesk_client.api.invocations import get_invocation, list_invocations, replay_invocation
from hookdesk_client.api.tickets import create_ticket, patch_ticket
from hookdesk_client.api.triggers import create_trigger
from hookdesk_client.api.webhooks import create_webhook
from hookdesk_client.models import (
    CreateTicketBody,
    CreateWebhookBody,
    InboundBody,
    PatchTicketBody,
    TriggerBody,
)

received = []


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        received.append(self.rfile.read(int(self.headers["content-length"])).decode())
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def expect(response, status, what):
    if response.status_code != status or response.parsed is None:
        sys.exit(f"{what}: expected {status}, got {response.status_code}: {response.content[:500]!r}")
    return response.parsed


def wait_for(what, condition):
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            sys.exit(f"waited 30 s for {what}")
        time.sleep(0.05)


def main(url, token):
    receiver = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{receiver.server_address[1]}/case-updated"
    client = AuthenticatedClient(base_url=url, token=token)

    webhook = expect(
        create_webhook.sync_detailed(client=client, body=CreateWebhookBody.from_dict(
            {"name": "Intranet", "endpoint": endpoint})),
        201, "create a webhook")
    payload = '{"text": "Case {{ ticket.id }} updated: {{ ticket.subject | uri_encode }}"}'
    expect(
        create_trigger.sync_detailed(client=client, body=TriggerBody.from_dict({
            "title": "Send web action",
            "conditions": {"all": [
                {"field": "update_type", "operator": "is", "value": "change"},
                {"field": "tags", "operator": "includes", "value": "send_web_action"}]},
            "actions": [
                {"field": "notify_webhook", "value": {"webhook_id": webhook.id, "payload": payload}},
                {"field": "remove_tags", "value": "send_web_action"}]})),
        201, "create a trigger")
    ticket = expect(
        create_ticket.sync_detailed(client=client, body=CreateTicketBody.from_dict(
            {"subject": "Printer on fire", "requester": {"name": "Ann", "email": "ann@example.com"}})),
        201, "create a ticket")
    updated = expect(
        patch_ticket.sync_detailed(ticket.id, client=client, body=PatchTicketBody.from_dict(
            {"add_tags": ["send_web_action"]})),
        200, "update the ticket")
    if updated.tags:
        sys.exit(f"the trigger should have removed the tag: {updated.tags}")
    wait_for("the delivery", lambda: len(received) == 1)
    if "Printer%20on%20fire" not in received[0]:
        sys.exit(f"unexpected payload: {received[0]}")

    log = expect(list_invocations.sync_detailed(client=client, ticket_id=ticket.id), 200, "read the log")
    invocation = log.data[0]
    wait_for("the invocation to succeed", lambda: expect(
        get_invocation.sync_detailed(invocation.id, client=client), 200, "read the invocation").status.value == "succeeded")
    expect(replay_invocation.sync_detailed(invocation.id, client=client), 201, "replay the invocation")
    wait_for("the replay", lambda: len(received) == 2)

    inbound = expect(
        create_inbound_webhook.sync_detailed(client=client, body=InboundBody.from_dict({
            "name": "Contact form",
            "actions": [{"type": "create_ticket", "fields": {
                "subject": "{{ request.params.subject }}",
                "requester": {"email": "{{ request.params.email }}"}}}]})),
        201, "create an inbound webhook")
    called = httpx.post(inbound.url, data={"subject": "Hello", "email": "bo@example.com"})
    if called.status_code >= 300:
        sys.exit(f"the inbound webhook answered {called.status_code}: {called.text}")
    calls = expect(list_calls.sync_detailed(inbound.id, client=client), 200, "read its calls")
    if len(calls.data) != 1:
        sys.exit(f"expected one logged call, got {len(calls.data)}")
    print("the tour's API steps ran through the generated client: webhook, trigger, ticket, update, "
          "delivery, log, replay, inbound webhook")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
