"""`streamix serve` against a real Mosquitto broker.

Each test starts /usr/sbin/mosquitto on a free loopback port with a generated configuration
(and stops it), runs the gateway (the binary named by $STREAMIX) as a process, and publishes
and subscribes with paho-mqtt. Data come from fixed seeds.
"""
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
import pytest

STREAMIX = os.environ.get("STREAMIX", "streamix")
MOSQUITTO = "/usr/sbin/mosquitto"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Broker:
    """A Mosquitto broker on 127.0.0.1:port, persistent (it keeps sessions and queued
    messages across a restart), with no limit on queued messages."""

    def __init__(self, directory, extra=""):
        self.port = free_port()
        self.dir = directory
        self.conf = os.path.join(directory, "mosquitto.conf")
        user = "user root\n" if os.geteuid() == 0 else ""  # as root it would switch user
        if "allow_anonymous" not in extra:  # (Mosquitto 2 refuses anonymous clients by default)
            extra += "allow_anonymous true\n"
        with open(self.conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\n{user}"
                    f"persistence true\npersistence_location {directory}/\n"
                    "max_queued_messages 0\nmax_inflight_messages 100\n"
                    f"log_dest file {directory}/mosquitto.log\n{extra}")
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen([MOSQUITTO, "-c", self.conf],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def accepting():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                return False
        wait_for(accepting, 10, "the broker")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def broker(tmp_path):
    b = Broker(str(tmp_path))
    yield b
    b.stop()


class Collector:
    """Subscribes to a filter and keeps every message (topic, payload)."""

    def __init__(self, port, topic_filter, **auth):
        self.messages = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(client_id=f"collector-{random.random()}", clean_session=True)
        if auth:
            self.client.username_pw_set(auth["username"], auth["password"])
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.on_connect = lambda c, u, f, rc: c.subscribe(topic_filter, qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert subscribed.wait(10), "collector subscribed"

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, msg.payload.decode()))

    def results(self, prefix):
        with self.lock:
            return [json.loads(p) for t, p in self.messages
                    if t.startswith(prefix + "/") and not t.endswith("/$status")]

    def last_status(self, prefix):
        with self.lock:
            for t, p in reversed(self.messages):
                if t == prefix + "/$status":
                    return json.loads(p)
        return None

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


class Gateway:
    """`streamix serve` as a process; its stderr in a file."""

    def __init__(self, broker, directory, *args, name="gateway"):
        self.log = os.path.join(directory, f"{name}.log")
        self.args = [STREAMIX, "serve", "--broker", f"127.0.0.1:{broker.port}",
                     "--status-every", "0.2", *args]
        with open(self.log, "ab") as err:
            self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=err)

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def wait_connected(self, count=1):
        wait_for(lambda: self.text().count("subscribed to") >= count or self.process.poll() is not None,
                 20, "the gateway to connect and subscribe")
        assert self.process.poll() is None, self.text()

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            assert self.process.wait(30) == 0, self.text()


def publish_all(port, messages, client_id, qos=1, pace=None):
    """Publishes (topic, payload) pairs at QoS 1 and waits until the broker acknowledged all.
    With pace, at most that many messages per second. Rides out a broker restart: paho keeps
    unacknowledged messages and sends them again after it reconnects."""
    client = mqtt.Client(client_id=client_id, clean_session=False)
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(0.1, 1)
    acknowledged = set()  # (is_published() raises for a message queued while disconnected)
    client.on_publish = lambda c, userdata, mid: acknowledged.add(mid)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = []
    start = time.monotonic()
    for i, (topic, payload) in enumerate(messages):
        infos.append(client.publish(topic, payload, qos=qos))
        if pace and i % 50 == 0:
            ahead = i / pace - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    for info in infos:
        while info.mid not in acknowledged:
            time.sleep(0.01)
    client.loop_stop()
    client.disconnect()


def normal_readings(rng, topics, steps, fault=None):
    """JSON readings: topics x steps, step-major; fault = (topic index, first step, key, shift)."""
    out = []
    for t in range(steps):
        for i, topic in enumerate(topics):
            r = {"ts": t, "temp": 20 + i + rng.gauss(0, 1), "pressure": 3 + rng.gauss(0, 0.2),
                 "vibration": 0.5 + rng.gauss(0, 0.05)}
            if fault and i == fault[0] and t >= fault[1]:
                r[fault[2]] += fault[3]
            out.append((topic, json.dumps(r)))
    return out


JSON_ARGS = ["--format", "json", "--columns", "temp,pressure,vibration", "--time", "ts",
             "--init-samples", "50", "--calibration", "50", "--alarm-rate", "1e-5"]


def test_end_to_end_alerts_name_the_faulty_topic_and_feature(broker, tmp_path):
    topics = [f"plant/line{i}/pump" for i in range(50)]
    readings = normal_readings(random.Random(1), topics, 200, fault=(17, 170, "vibration", 1.0))
    collector = Collector(broker.port, "alerts/#")
    gw = Gateway(broker, str(tmp_path), "--subscribe", "plant/+/pump", "--alerts", "alerts", *JSON_ARGS)
    gw.wait_connected()
    publish_all(broker.port, readings, "publisher-e2e")
    wait_for(lambda: (collector.last_status("alerts") or {}).get("scored") == len(readings), 60,
             "every reading scored")
    gw.stop()
    collector.close()
    alerts = collector.results("alerts")
    assert alerts, "the fault was flagged"
    assert {a["topic"] for a in alerts} == {"plant/line17/pump"}, alerts[:5]
    assert all(a["top_feature"] == "vibration" and a["anomaly"] for a in alerts)
    assert all(a["time"] >= 170 for a in alerts)
    print(f"\nend to end: {len(alerts)} alerts, all on the faulty topic")
    assert len(alerts) >= 20, len(alerts)  # of the fault's 30 readings
    assert set(alerts[0]["reading"]) == {"temp", "pressure", "vibration"}


def publisher_process(port, messages, client_id):
    publish_all(port, messages, client_id)


def test_load_every_reading_accounted_for(broker, tmp_path):
    """1,000 topics x 100 CSV readings from 4 publisher processes at QoS 1."""
    topics = [f"fleet/{i:04d}" for i in range(1000)]
    faulty = set(range(0, 1000, 100))  # 10 topics: their last 10 readings far off
    rng = random.Random(2)
    per_publisher = [[] for _ in range(4)]
    for t in range(100):
        for i, topic in enumerate(topics):
            a, b = rng.gauss(0, 1), rng.gauss(5, 1)
            if i in faulty and t >= 90:
                b += 15
            per_publisher[i % 4].append((topic, f"{t},{a:.4f},{b:.4f}"))
    published = sum(len(m) for m in per_publisher)
    collector = Collector(broker.port, "load/#")
    gw = Gateway(broker, str(tmp_path), "--subscribe", "fleet/#", "--alerts", "load",
                 "--columns", "2,3", "--time", "1", "--init-samples", "30", "--calibration", "30",
                 "--alarm-rate", "1e-4", "--max-streams", "1000")
    gw.wait_connected()
    start = time.monotonic()
    procs = [multiprocessing.Process(target=publisher_process, args=(broker.port, m, f"load-{k}"))
             for k, m in enumerate(per_publisher)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    wait_for(lambda: (collector.last_status("load") or {}).get("readings") == published, 120,
             "every reading received")
    elapsed = time.monotonic() - start
    status = collector.last_status("load")
    with open(f"/proc/{gw.process.pid}/stat") as f:  # utime and stime, in clock ticks
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    gw.stop()
    collector.close()
    assert status["scored"] + status["rejected"] == published
    assert status["rejected"] == 0 and status["streams"] == 1000
    alerts = collector.results("load")
    flagged = {a["topic"] for a in alerts}
    assert {topics[i] for i in faulty} <= flagged
    false_alarms = [a for a in alerts if int(a["topic"].split("/")[1]) not in faulty]
    assert len(false_alarms) <= 40, len(false_alarms)  # 990 x 40 scored readings at 1e-4: ~4
    print(f"\nserve load: {published} readings from 4 publishers at QoS 1 in {elapsed:.1f} s "
          f"({published / elapsed:.0f} readings/s end to end; the gateway used {cpu:.2f} CPU s, "
          f"{published / max(cpu, 0.01):.0f} readings per CPU second), {len(alerts)} alerts "
          f"({len(false_alarms)} on normal topics)")


def test_kill_9_restores_every_stream_from_the_last_checkpoint(broker, tmp_path):
    topics = [f"kill/{i}" for i in range(20)]
    rng = random.Random(3)
    state = str(tmp_path / "state")
    common = ["--subscribe", "kill/#", "--every-reading", "--checkpoint-every", "3600", *JSON_ARGS]
    collector = Collector(broker.port, "out/#")
    gw = Gateway(broker, str(tmp_path), "--state-dir", state, "--client-id", "gw-a",
                 "--alerts", "out/a", *common, name="a")
    gw.wait_connected()
    publish_all(broker.port, normal_readings(rng, topics, 100), "pub-1")
    wait_for(lambda: len(collector.results("out/a")) == 2000, 60, "phase 1 scored")
    gw.process.send_signal(signal.SIGUSR1)
    wait_for(lambda: "checkpoint: 20 streams" in gw.text(), 20, "the checkpoint")
    publish_all(broker.port, normal_readings(rng, topics, 10), "pub-2")  # after it: lost by the crash
    wait_for(lambda: len(collector.results("out/a")) == 2200, 60, "phase 1b scored")
    gw.process.kill()
    gw.process.wait(10)
    replay_state = str(tmp_path / "replay")
    shutil.copytree(state, replay_state)
    restarted = Gateway(broker, str(tmp_path), "--state-dir", state, "--client-id", "gw-a",
                        "--alerts", "out/a2", *common, name="a2")
    replay = Gateway(broker, str(tmp_path), "--state-dir", replay_state, "--client-id", "gw-b",
                     "--alerts", "out/b", *common, name="b")
    restarted.wait_connected()
    replay.wait_connected()
    assert "restored 20 streams" in restarted.text()
    publish_all(broker.port, normal_readings(rng, topics, 30), "pub-3")
    wait_for(lambda: len(collector.results("out/a2")) == 600 and len(collector.results("out/b")) == 600,
             60, "phase 2 scored by both")
    restarted.stop()
    replay.stop()
    collector.close()
    after_crash, replayed = collector.results("out/a2"), collector.results("out/b")
    assert all(r["score"] is not None for r in after_crash), "restored, not warming up again"
    by_topic = lambda rs: {t: [r for r in rs if r["topic"] == t] for t in topics}
    assert by_topic(after_crash) == by_topic(replayed)


def test_broker_restart_loses_nothing_published_at_qos_1(broker, tmp_path):
    topics = [f"restart/{i}" for i in range(30)]
    readings = [(topic, f"{t},{random.Random(t * 31 + i).gauss(0, 1):.4f}")
                for t in range(200) for i, topic in enumerate(topics)]
    gw = Gateway(broker, str(tmp_path), "--subscribe", "restart/#", "--alerts", "r", "--every-reading",
                 "--columns", "2", "--time", "1", "--init-samples", "20", "--calibration", "20")
    gw.wait_connected()
    publisher = multiprocessing.Process(target=publish_all, args=(broker.port, readings, "pub-r"),
                                        kwargs={"pace": 2000})
    publisher.start()
    time.sleep(1.0)
    broker.stop()  # mid-stream: about a third published
    time.sleep(1.5)
    broker.start()
    publisher.join(60)
    assert publisher.exitcode == 0
    gw.wait_connected(count=2)
    collector = Collector(broker.port, "r/$status")
    wait_for(lambda: (collector.last_status("r") or {}).get("readings", 0) >= len(readings), 60,
             "every reading received after the restart")
    status = collector.last_status("r")
    gw.stop()
    collector.close()
    assert "connection lost" in gw.text()
    # At least once: a message in flight when the broker stopped may come twice.
    assert status["scored"] >= len(readings) and status["rejected"] == 0
    print(f"\nbroker restart: {len(readings)} published, {status['readings']} received")


def test_corrupted_checkpoint_is_reported_and_its_stream_starts_fresh(broker, tmp_path):
    topics = [f"cp/{i}" for i in range(5)]
    state = str(tmp_path / "state")
    args = ["--subscribe", "cp/#", "--alerts", "c", "--every-reading", "--state-dir", state, *JSON_ARGS]
    collector = Collector(broker.port, "c/#")
    gw = Gateway(broker, str(tmp_path), *args)
    gw.wait_connected()
    publish_all(broker.port, normal_readings(random.Random(4), topics, 120), "pub-c")
    wait_for(lambda: len(collector.results("c")) == 600, 60, "every reading scored")
    gw.stop()  # SIGTERM: a final checkpoint
    files = sorted(os.listdir(state))
    assert len(files) == 5
    victim = os.path.join(state, files[2])
    with open(victim, "r+b") as f:
        f.seek(150)
        f.write(b"\xff\xff")
    gw = Gateway(broker, str(tmp_path), *args, name="again")
    gw.wait_connected()
    assert "restored 4 streams" in gw.text()
    assert f"checkpoint skipped: {files[2]}" in gw.text()
    publish_all(broker.port, normal_readings(random.Random(5), topics, 1), "pub-c2")
    wait_for(lambda: len(collector.results("c")) == 605, 30, "one more reading each")
    gw.stop()
    collector.close()
    last = collector.results("c")[600:]
    fresh = [r["topic"] for r in last if r["score"] is None]
    assert len(fresh) == 1 and all(r["score"] is not None for r in last if r["topic"] != fresh[0])


def test_bad_payloads_and_too_many_streams_are_counted(broker, tmp_path):
    collector = Collector(broker.port, "bad/$status")
    gw = Gateway(broker, str(tmp_path), "--subscribe", "in/#", "--alerts", "bad", "--max-streams", "3",
                 "--max-payload", "1000", *JSON_ARGS)
    gw.wait_connected()
    rng = random.Random(6)
    good = normal_readings(rng, ["in/1", "in/2", "in/3"], 60)
    bad = [("in/1", "not json"), ("in/2", '{"temp": 1}'), ("in/3", '{"temp": "x", "pressure": 1, "vibration": 1}'),
           ("in/1", "{" * 5000), ("in/2", bytes(range(256)) * 3), ("in/1", '{"temp": 1e300, "pressure": 1, "vibration": 1}'),
           ("in/4", json.dumps({"temp": 1, "pressure": 1, "vibration": 1})), ("in/5", "{}")]
    publish_all(broker.port, good[:90] + bad + good[90:], "pub-bad")
    wait_for(lambda: (collector.last_status("bad") or {}).get("readings") == len(good) + len(bad), 30,
             "every payload received")
    status = collector.last_status("bad")
    gw.stop()
    collector.close()
    assert status["scored"] == len(good)
    assert status["rejected_by_reason"] == {"malformed": 6, "oversized": 1, "bad_reading": 0,
                                           "too_many_streams": 1}, status
    assert "rejected" in gw.text()  # reported (at most once a second)


def test_password_from_a_file_never_in_arguments_or_logs(tmp_path):
    password = "s3cret-Pa55word"
    passwd = tmp_path / "passwd"
    passwd.write_text(f"gateway:{password}\ncollector:{password}\n")
    subprocess.run(["/usr/bin/mosquitto_passwd", "-U", str(passwd)], check=True)
    broker = Broker(str(tmp_path), f"allow_anonymous false\npassword_file {passwd}\n")
    try:
        secret = tmp_path / "gateway.secret"
        secret.write_text(password + "\n")
        args = ["--subscribe", "sec/#", "--alerts", "sec", "--columns", "1", "--username", "gateway"]
        refused = Gateway(broker, str(tmp_path), *args, name="refused")
        assert refused.process.wait(20) == 1
        assert "refused the connection" in refused.text() and "--password-file" in refused.text()
        gw = Gateway(broker, str(tmp_path), *args, "--password-file", str(secret), name="accepted")
        gw.wait_connected()
        collector = Collector(broker.port, "sec/$status", username="collector", password=password)
        wait_for(lambda: collector.last_status("sec") is not None, 10, "a status message")
        with open(f"/proc/{gw.process.pid}/cmdline", "rb") as f:
            assert password.encode() not in f.read()
        gw.stop()
        collector.close()
        for log in ("refused", "accepted"):
            assert password not in (tmp_path / f"{log}.log").read_text()
    finally:
        broker.stop()


def test_tls_with_a_ca_file(tmp_path):
    """A broker listening with TLS only: the gateway connects with --cafile (the broker's
    certificate checked against it, host name included), and not without it."""
    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, cwd=tmp_path, capture_output=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-subj", "/CN=streamix test CA", "-days", "2")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1")
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "san.ext")
    broker = Broker(str(tmp_path), f"cafile {tmp_path}/ca.crt\ncertfile {tmp_path}/server.crt\n"
                                   f"keyfile {tmp_path}/server.key\n")
    try:
        args = ["--subscribe", "tls/#", "--columns", "1"]
        plain = Gateway(broker, str(tmp_path), *args, "--client-id", "plain", name="plain")
        gw = Gateway(broker, str(tmp_path), *args, "--cafile", str(tmp_path / "ca.crt"), name="tls")
        gw.wait_connected()
        time.sleep(1)
        assert "subscribed to" not in plain.text()
        plain.stop()
        gw.stop()
    finally:
        broker.stop()


def test_readings_published_while_the_gateway_is_down_are_scored_when_it_returns(broker, tmp_path):
    topics = [f"down/{i}" for i in range(5)]
    rng = random.Random(8)
    args = ["--subscribe", "down/#", "--alerts", "d", "--client-id", "gw-down", *JSON_ARGS]
    collector = Collector(broker.port, "d/$status")
    gw = Gateway(broker, str(tmp_path), *args)
    gw.wait_connected()
    publish_all(broker.port, normal_readings(rng, topics, 10), "pub-d1")
    wait_for(lambda: (collector.last_status("d") or {}).get("scored") == 50, 30, "the first readings")
    gw.stop()  # its session stays with the broker
    publish_all(broker.port, normal_readings(rng, topics, 40), "pub-d2")  # while it is down
    gw = Gateway(broker, str(tmp_path), *args, name="back")
    wait_for(lambda: (collector.last_status("d") or {}).get("scored") == 200, 30,
             "the readings published while it was down")
    gw.stop()
    collector.close()
