"""The judge path against a local fake OpenAI-compatible server: scores, retries, cache, endpoint down."""

from __future__ import annotations

import json
import socket

import pytest

from curate.core.errors import UserError
from eval.belle import judge_all, parse_score
from eval.judge_client import JudgeClient, JudgeError
from curate.core.readers.items import OpenItem
from eval.tasks.schema import JudgeSpec
from tests.local_http import LocalJSONServer


class FakeJudge(LocalJSONServer):
    """Answers /v1/chat/completions; ``script`` lists (status, content) for the next requests."""

    def __init__(self):
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.script: list[tuple[int, str]] = []
        self.default = (200, "得分: 0.8分。回答基本正确。")
        super().__init__(self.respond)

    def respond(self, path: str, headers: dict, body: dict) -> tuple[int, dict]:
        self.requests.append(body)
        self.headers.append(headers)
        status, content = self.script.pop(0) if self.script else self.default
        if "score=" in body["messages"][0]["content"]:  # the test asks for a given answer
            content = body["messages"][0]["content"].split("score=")[1].split()[0]
        return status, ({"choices": [{"message": {"role": "assistant", "content": content}}]} if status == 200
                        else {"error": {"message": "busy"}})


@pytest.fixture
def fake():
    f = FakeJudge()
    yield f
    f.close()


def client(url, tmp_path, **kw):
    opts = {"api_key_env": "ZHTUNE_TEST_JUDGE_KEY", "timeout_s": 5, "max_retries": 2, "backoff_s": 0.01,
            "requests_per_minute": 0, "cache_dir": tmp_path / "cache"}
    opts.update(kw)
    return JudgeClient(url, "fake-judge", **opts)


def items(n):
    return [OpenItem(f"belle/{i}", "open qa", f"问题{i}", f"标准{i}", f"f:{i}") for i in range(n)]


def test_scores_parsed_cached_and_key_sent(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("ZHTUNE_TEST_JUDGE_KEY", "sk-test")
    spec = JudgeSpec()
    answers = ["回答0", "score=得分:1", "score=没有分数", "score=得分：7"]
    out = judge_all(client(fake.url, tmp_path), items(4), answers, {"open qa": "评分提示。"}, spec, concurrency=2)
    assert [o["judge_score"] for o in out] == [0.8, 1.0, None, None]
    assert out[2]["judge_unscored"] == "judge_no_score"
    assert out[3]["judge_unscored"].startswith("judge_score_out_of_range")
    assert len(fake.requests) == 4 and fake.headers[0]["Authorization"] == "Bearer sk-test"
    contents = sorted(r["messages"][0]["content"] for r in fake.requests)  # concurrency 2: any arrival order
    assert contents[0] == "评分提示。问题:问题0 标准回答:标准0 模型回答:回答0"
    assert all(r["model"] == "fake-judge" and r["temperature"] == 0.0 for r in fake.requests)
    c2 = client(fake.url, tmp_path)  # a new client reads the cache from disk: no new request
    again = judge_all(c2, items(4), answers, {"open qa": "评分提示。"}, spec)
    assert [o["judge_score"] for o in again] == [0.8, 1.0, None, None]
    assert len(fake.requests) == 4 and c2.cache_hits == 4


def test_retries_transient_errors_then_succeeds(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("ZHTUNE_TEST_JUDGE_KEY", "k")
    fake.script = [(500, ""), (429, "")]
    c = client(fake.url, tmp_path, cache_dir=None)
    assert c.complete([{"role": "user", "content": "x"}]).startswith("得分: 0.8")
    assert len(fake.requests) == 3
    fake.script = [(400, "")]  # a client error is not retried
    with pytest.raises(JudgeError, match="judge_http_error"):
        c.complete([{"role": "user", "content": "y"}])
    assert len(fake.requests) == 4


def test_endpoint_down_gives_bounded_unscored_items(tmp_path, monkeypatch):
    monkeypatch.setenv("ZHTUNE_TEST_JUDGE_KEY", "k")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = client(f"http://127.0.0.1:{port}/v1", tmp_path, max_retries=1, max_consecutive_failures=2, cache_dir=None)
    out = judge_all(c, items(6), ["a"] * 6, {"open qa": "p"}, JudgeSpec(), concurrency=1)
    assert all(o["judge_score"] is None and o["judge_unscored"].startswith("judge_unreachable") for o in out)
    assert c.requests_sent == 4  # 2 items x 2 attempts, then the client stops trying


def test_rate_limit_spaces_requests(fake, tmp_path, monkeypatch):
    import time

    monkeypatch.setenv("ZHTUNE_TEST_JUDGE_KEY", "k")
    c = client(fake.url, tmp_path, requests_per_minute=600, cache_dir=None)  # one request per 0.1 s
    t0 = time.monotonic()
    judge_all(c, items(4), ["a", "b", "c", "d"], {"open qa": "p"}, JudgeSpec(), concurrency=4)
    assert time.monotonic() - t0 >= 0.29


def test_key_only_from_environment(fake, tmp_path, monkeypatch):
    monkeypatch.delenv("ZHTUNE_TEST_JUDGE_KEY", raising=False)
    with pytest.raises(UserError, match="ZHTUNE_TEST_JUDGE_KEY is not set"):
        client(fake.url, tmp_path)


def test_parse_score_forms():
    spec = JudgeSpec()
    assert parse_score("得分: 1分。模型回答与标准答案完全一致", spec) == (1.0, None)
    assert parse_score("分析……得分：0.5", spec) == (0.5, None)
    assert parse_score("我无法评分", spec) == (None, "judge_no_score")
