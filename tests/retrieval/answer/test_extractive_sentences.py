"""How the extractive answer reads a source (retrieval/answer/sentences.py): statements are
pieces; headings, link lines, code and table rules are not; lists know their lead-in."""

from __future__ import annotations

from retrieval.answer.sentences import MAX_SENTENCE_WORDS, is_link_line, units

# How the chunker writes a short sub-section merged into its neighbour: the sub-heading as a line
# of its own above its text.
MERGED = (
    "Every employee can request VPN access from their first day.\n\n"
    "VPN access for external contractors\n"
    "Contractors get access only if their Northwind sponsor approves the request.\n\n"
    "# Setting up the VPN client on Linux\n"
    "Install the client from the company apt repository."
)

BANK = (
    "Bank detail changes are the most common fraud attempt. A change request:\n\n"
    "- must come through the supplier portal or on signed letterhead;\n"
    "- is verified by a call-back to a known contact;\n"
    "- triggers a hold of 5 business days before the first payment to the new account.\n\n"
    "Report suspicious requests to the finance lead the same day."
)

STEPS = (
    "How to request access\n"
    "1. Open the Helpdesk portal and sign in with your Northwind account.\n"
    "2. Choose Access requests and then VPN.\n"
    "3. Pick the device you will connect from; personal devices are refused.\n"
    "4. Submit the request. Your manager gets an approval email."
)


def test_headings_are_context_not_pieces() -> None:
    read = units(MERGED)
    assert [u.text for u in read] == [
        "Every employee can request VPN access from their first day.",
        "Contractors get access only if their Northwind sponsor approves the request.",
        "Install the client from the company apt repository.",
    ]
    assert read[1].heading == "VPN access for external contractors"
    assert read[2].heading == "Setting up the VPN client on Linux"
    # A plain-text file's title line, and a numbered sub-heading ("3. Manager review").
    titled = units("Northwind office hours and reception\n\nBoth offices open at 08:00 on weekdays.")
    assert [u.text for u in titled] == ["Both offices open at 08:00 on weekdays."]
    numbered = units("3. Manager review\nYour manager writes an assessment against your level.")
    assert [(u.kind, u.heading) for u in numbered] == [("sentence", "Manager review")]


def test_a_wrapped_paragraph_is_not_a_heading() -> None:
    read = units("Requests are approved within\none business day by your manager.")
    assert [u.text for u in read] == ["Requests are approved within one business day by your manager."]


def test_link_lines() -> None:
    assert is_link_line("https://wiki.example/vpn https://wiki.example/mfa")
    assert is_link_line("See https://wiki.example/vpn-linux")
    assert is_link_line("Home | IT services | VPN access | Linux client")
    assert is_link_line("Home > HR > Leave > Sick leave")
    assert not is_link_line("Open the IT portal at https://it.example/vpn and sign in.")
    assert not is_link_line("Level | Band")  # two cells: a table row, not a navigation bar
    assert units("Home | IT services | VPN access\n\n- https://a.example/x\n- https://b.example/y") == []


def test_lists_know_their_lead_in_and_blocks() -> None:
    read = units(BANK)
    lead = read[1]
    assert (lead.text, lead.kind) == ("A change request:", "sentence")
    items = [u for u in read if u.kind == "item"]
    assert len(items) == 3 and {u.lead_in for u in items} == {lead.position}
    assert len({u.block for u in items}) == 1 and items[0].block != lead.block
    assert all(u.marker == "- " for u in items)
    assert read[-1].lead_in is None  # the paragraph after the list is not part of it


def test_numbered_steps_and_tables() -> None:
    steps = units(STEPS)
    assert [u.marker for u in steps] == ["1. ", "2. ", "3. ", "4. "]
    assert {u.kind for u in steps} == {"step"} and steps[0].heading == "How to request access"
    table = units("Salary bands per level:\n\nLevel | Band\nL4 | 70k-90k EUR\nL5 | 90k-120k EUR")
    assert [u.text for u in table[1:]] == ["Level: L4; Band: 70k-90k EUR", "Level: L5; Band: 90k-120k EUR"]
    assert {u.lead_in for u in table[1:]} == {0}


def test_code_and_long_runs() -> None:
    read = units("```\nsudo apt install wireguard-tools\n```\nThe client is installed from apt.")
    assert [u.text for u in read] == ["The client is installed from apt."]
    run = units(" ".join(["word"] * (2 * MAX_SENTENCE_WORDS + 5)))
    assert [u.words for u in run] == [MAX_SENTENCE_WORDS, MAX_SENTENCE_WORDS, 5]
