"""The streamed preview: link-free, inert, and append-only as the answer grows."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.slack.stream_text import addition, preview, stable_part

WJ = "\u2060"
ANSWER = (
    "Request VPN access in the **Helpdesk portal** [1]. It takes *one business day* [1].\n\n"
    "## Steps\n\n1. Open `vpn-client`\n2. Sign in with MFA\n   - use the *Authenticator* app\n\n"
    "> Note: see [the page](https://evil.example/x) and https://wiki.example/vpn.\n\n"
    "```bash\nsudo vpn --connect <host>\n```\n- [x] done\n- [ ] todo\nThe end."
)


def streamed(text: str, step: int = 1) -> tuple[str, int]:
    """What growing ``text`` by ``step`` characters would append, and how often it stalled."""
    shown, stalls = "", 0
    for n in range(step, len(text) + step, step):
        more = addition(shown, preview(text[:n]))
        if more is None:
            stalls += 1
        else:
            shown += more
    return shown, stalls


def test_growing_an_answer_only_ever_appends() -> None:
    shown, stalls = streamed(ANSWER)
    assert stalls == 0 and shown == preview(ANSWER)
    assert "**Helpdesk portal**" in shown and "_one business day_" in shown and "- ☑ done" in shown


def test_no_url_in_the_preview_only_hosts() -> None:
    text = preview(ANSWER)
    assert "https://" not in text and "the page (evil.example)" in text and "wiki.example" in text
    assert preview("[mail](mailto:it@evil.example) x") == "mail (it@evil.example)"
    assert preview("run `curl https://e.example/x` now") == f"run `curl https{WJ}://e.example/x`"


def test_nothing_can_notify_or_format_by_accident() -> None:
    text = preview("<!channel> <@U1> @here #general 2*3*4 <b>x</b> done")
    assert "<!" not in text.replace("\\", "")
    assert f"@{WJ}here" in text and "\\*" in text and "\\#general" in text
    assert f"\\<{WJ}\\!channel" in text


def test_what_is_not_streamed_yet() -> None:
    assert stable_part("An unfinished **bold phrase") == "An unfinished"
    assert stable_part("Intro\n```py\ncode so far") == "Intro"  # an open fence waits
    assert stable_part("Steps:\n   - ") == "Steps:\n"  # a marker alone: what it opens is unknown
    assert stable_part("word") == ""  # the word may not be complete


_pieces = st.sampled_from(["**", "*", "_", "`", "```", "[", "](https://x.example)", "\n", "\n\n", "- ", "1. ",
                           "> ", "# ", "word ", "<!here> ", "https://e.example/a ", "~~", "\\", "|"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_pieces, max_size=30).map("".join))
@example("`_https://e.example/a `\n")  # found by this test: a scheme right after a word character
def test_property_the_preview_never_holds_a_url_or_a_live_mention(text: str) -> None:
    shown, _ = streamed(text, step=3)
    for out in (shown, preview(text)):
        assert "https://" not in out and "<!" not in out.replace("\\", "")


def test_a_www_address_in_text_is_not_left_for_slack_to_link() -> None:
    # Markdown renderers (GFM's extended autolinks) link a bare "www." address: the preview
    # must not hand Slack a link before the final answer has checked it.
    for text in ("Sign in at www.evil.example/login now.", "see `www.evil.example` x", "**WWW.EVIL.EXAMPLE** x"):
        out = preview(text)
        assert "www." not in out.lower(), out
        assert "evil.example" in out.lower()


def test_a_label_naming_a_longer_host_still_shows_the_real_one() -> None:
    # "evil.example" is inside "notevil.example", but the label does not name the real host.
    assert preview("[Sign in at notevil.example](https://evil.example/x) now\n") == (
        "Sign in at notevil.example (evil.example) now"
    )
    assert preview("[evil.example](https://intranet.example@evil.example/) x\n") == "evil.example (evil.example) x"
    assert preview("[the evil.example page](https://evil.example/x) now\n") == "the evil.example page now"
