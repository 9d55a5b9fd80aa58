#!/usr/bin/env python3
"""Makes a committed fixture: a store with a record of every kind, every
kind of stored answer and both seat states, and the requests that made it
with their answers (requests.json), which the fixture tests replay.

    cargo build && scripts/make-dump-fixture.py target/debug/boxoffice
        writes tests/fixtures/dump-v1: the store exported as a dump (run
        once per dump version; later builds must keep importing it:
        tests/api/dump.rs)
    scripts/make-dump-fixture.py target/debug/boxoffice --data DIR
        writes DIR: the sled data directory itself (a store of the layout
        of the build that wrote it: tests/api/store_format.rs)
    scripts/make-dump-fixture.py target/debug/boxoffice --data DIR --second-user
        the same, with a second user's bookings on both shows as well (one-shot,
        one cancelled, one through a cart: tests/fixtures/sled-format-1)
"""
import json, os, shutil, subprocess, sys, tempfile, time, urllib.request

BIN = sys.argv[1]
KEEP_DATA = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--data" else None
SECOND_USER = "--second-user" in sys.argv[4:]
OUT = KEEP_DATA or os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "dump-v1")
ADMIN = "fixture-admin"
PORT = 18093
BASE = f"http://127.0.0.1:{PORT}"

def call(method, path, token=None, key=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if key:
        request.add_header("Idempotency-Key", key)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()

def main():
    work = tempfile.mkdtemp()
    data = os.path.join(work, "data")
    env = dict(os.environ, BOXOFFICE_ADMIN_TOKEN=ADMIN, BOXOFFICE_USER_RATE_LIMIT="0", RUST_LOG="warn")
    server = subprocess.Popen([BIN, "serve", "--bind", f"127.0.0.1:{PORT}", "--data-dir", data, "--no-demo"], env=env)
    for _ in range(100):
        try:
            urllib.request.urlopen(BASE + "/healthz")
            break
        except Exception:
            time.sleep(0.1)
    replays = []
    def keyed(name, method, path, token, body, expect):
        key = f"fixture-{name}"
        status, text = call(method, path, token, key, body)
        assert status == expect, (name, status, text)
        replays.append({"name": name, "method": method, "path": path, "token": token,
                        "key": key, "body": json.dumps(body), "status": status, "answer": text})
        return json.loads(text)

    priced = {"title": "Fixture, priced", "starts_at": "2030-01-01T19:30:00Z", "currency": "EUR",
              "categories": [{"id": "stalls", "name": "Stalls", "price_cents": 950},
                             {"id": "box", "name": "Box", "price_cents": 2000}],
              "rows": [{"label": "A", "seats": 6, "wheelchair": [1], "companion": [2], "aisles_after": [3]},
                       {"label": "B", "seats": 6, "category": "box"}]}
    plain = {"title": "Fixture, plain", "starts_at": "2030-01-02T19:30:00Z", "rows": [{"label": "A", "seats": 4}]}
    show = keyed("show-priced", "POST", "/v1/shows", ADMIN, priced, 201)["id"]
    other = keyed("show-plain", "POST", "/v1/shows", ADMIN, plain, 201)["id"]
    status, text = call("POST", "/v1/sessions")
    assert status == 201
    token = json.loads(text)["token"]
    booked = keyed("booking", "POST", "/v1/bookings", token, {"show_id": show, "seats": ["A4", "A5"]}, 201)
    cancelled = keyed("booking-cancelled", "POST", "/v1/bookings", token, {"show_id": other, "seats": ["A1"]}, 201)
    status, _ = call("DELETE", f"/v1/bookings/{cancelled['id']}", token)
    assert status == 204
    keyed("booking-refused", "POST", "/v1/bookings", token, {"show_id": show, "seats": ["A4"]}, 409)
    open_cart = keyed("cart-open", "POST", "/v1/carts", token, {}, 201)["id"]
    keyed("hold", "POST", f"/v1/carts/{open_cart}/items", token, {"show_id": show, "seat_id": "B2"}, 201)
    paid_cart = keyed("cart-paid", "POST", "/v1/carts", token, {}, 201)["id"]
    keyed("hold-paid", "POST", f"/v1/carts/{paid_cart}/items", token, {"show_id": show, "seat_id": "B6"}, 201)
    keyed("checkout", "POST", f"/v1/carts/{paid_cart}/checkout", token, {}, 201)
    second = {}
    if SECOND_USER:
        status, text = call("POST", "/v1/sessions")
        assert status == 201
        fan = json.loads(text)["token"]
        second["token"] = fan
        fan_cart = keyed("fan-cart", "POST", "/v1/carts", fan, {}, 201)["id"]
        keyed("fan-hold", "POST", f"/v1/carts/{fan_cart}/items", fan, {"show_id": show, "seat_id": "A6"}, 201)
        second["checkout"] = keyed("fan-checkout", "POST", f"/v1/carts/{fan_cart}/checkout", fan, {}, 201)["id"]
        second["priced"] = keyed("fan-booking-priced", "POST", "/v1/bookings", fan, {"show_id": show, "seats": ["B1"]}, 201)["id"]
        second["plain"] = keyed("fan-booking-plain", "POST", "/v1/bookings", fan, {"show_id": other, "seats": ["A2"]}, 201)["id"]
        second["cancelled"] = keyed("fan-booking-cancelled", "POST", "/v1/bookings", fan, {"show_id": other, "seats": ["A3", "A4"]}, 201)["id"]
        status, _ = call("DELETE", f"/v1/bookings/{second['cancelled']}", fan)
        assert status == 204
        second["carts"] = {"paid": fan_cart}
    server.terminate()
    server.wait()
    os.makedirs(OUT, exist_ok=True)
    if KEEP_DATA:
        shutil.copytree(data, os.path.join(OUT, "data"))
    else:
        subprocess.run([BIN, "export", "--data-dir", data, "--out", os.path.join(OUT, "dump.jsonl")], check=True, env=env)
    bookings = {"booking": booked["id"], "booking-cancelled": cancelled["id"]}
    with open(os.path.join(OUT, "requests.json"), "w") as out:
        json.dump({"token": token, "admin_token": ADMIN, "bookings": bookings,
                   "carts": {"open": open_cart, "paid": paid_cart}, "replays": replays,
                   **({"second_user": second} if second else {})}, out, indent=1)
        out.write("\n")

main()
