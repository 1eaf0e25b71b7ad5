"""`make run`'s local setup and chat, end to end in script mode.

Starts what `make run` starts (local_chat.py: Apache with the webhook and
the real worker, the Graph and Cianbox stand-ins with the sample account),
chats as a sample customer from a script, and checks what a person trying
Ovidio would notice: the banner, the greeting by name, a product list shown
as numbered rows, a row picked by its number, a quote confirmed with its
PDF saved, an unknown number asked for a CUIT, and nothing left running
afterwards.

Run by tests/integration/run (as an unprivileged user, against a fresh
`make install`). Usage: test_run_local.py HOME WORKDIR FIXTURES
"""
import os
import re
import sqlite3
import subprocess
import sys

from harness import Runner, expect

HOME, WORK, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
HERE = os.path.dirname(os.path.abspath(__file__))
MARTIN = "5493415551234"     # sample customer 1, Gómez Martín


def chat(name, lines, who=1, timeout=20):
    """Run the local chat in script mode; (exit code, output, work dir)."""
    work = os.path.join(WORK, name)
    os.makedirs(work)
    script = os.path.join(work, "script.txt")
    with open(script, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    r = subprocess.run(
        ["/usr/bin/python3", os.path.join(HERE, "local_chat.py"), HOME,
         work, FIXTURES, "--script", script, "--as", str(who),
         "--reply-timeout", str(timeout)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=240, env={"PATH": "/usr/sbin:/usr/bin:/bin",
                          "HOME": os.environ.get("HOME", WORK)})
    return r.returncode, r.stdout + r.stderr, work


def stored_in(work, wa_id):
    db = os.path.join(work, "data", "ovidio.db")
    if not os.path.exists(db):
        return []
    c = sqlite3.connect(db, timeout=10)
    try:
        return [row[0] for row in c.execute(
            "SELECT body FROM mensajes WHERE wa_id = ? AND dir = 0 "
            "ORDER BY seq", (wa_id,))]
    finally:
        c.close()


def processes_under(path):
    """Our processes whose command line or executable mention path."""
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        try:
            exe = os.readlink("/proc/%s/exe" % p)
        except OSError:
            exe = ""
        if path in cmd or exe.startswith(path):
            found.append("%s %s" % (p, cmd.strip()))
    return found


RESULT = {}
ROW = re.compile(r"^\s+(\d+)\) (.+?) · USD [0-9.]+,[0-9]{2} \+ IVA", re.M)
SAVED = re.compile(r"\[documento\] \S+ \(\d+ KB\) guardado en:\n\s*(/\S+)")


def after(out, line):
    """What the chat printed after the input line (up to the next one)."""
    expect(line in out, "%r was sent:\n%s" % (line, out))
    return out.split(line, 1)[1].split("\nvos> ", 1)[0]


def test_chat_from_hola_to_a_quote_pdf():
    lines = ["hola", "¿tenés cámaras domo dahua 4mp?", "2", "necesito 5",
             "1", "1"]
    rc, out, work = chat("hola", lines)
    RESULT["hola"] = (rc, out, work)
    expect(rc == 0, "chat exit code %d:\n%s" % (rc, out))
    expect("Apache 2.4 + webhook" in out and "270 productos, 12 clientes" in out,
           "banner says what runs:\n" + out)
    expect(stored_in(work, MARTIN)[:2] == lines[:2],
           "the messages reached Ovidio's store as Martín's: %r"
           % stored_in(work, MARTIN))
    # Greeted by name: the sample customer was recognised by phone.
    greet = after(out, "vos> hola\n")
    expect("Ovidio › " in greet and "Martín" in greet,
           "Ovidio greets Martín:\n" + out)
    # A product question gets a numbered list with prices.
    listed = after(out, "vos> ¿tenés cámaras domo dahua 4mp?\n")
    rows = ROW.findall(listed)
    expect(len(rows) >= 2 and rows[0][0] == "1",
           "numbered product rows with prices:\n" + listed)
    expect(all("Dahua" in title for _, title in rows[:3]),
           "rows are Dahua products:\n" + listed)
    # Picking row 2 answers about that product.
    picked = after(out, "vos> 2\n")
    stem = rows[1][1].rstrip("…")
    expect("(elegiste: %s" % stem in picked, "the pick is echoed:\n" + picked)
    expect("Ovidio › " in picked and "USD" in picked,
           "the picked product's price comes back:\n" + picked)
    # Quantity, quote, confirm: a PDF saved where it can be opened.
    saved = SAVED.findall(out)
    expect(len(saved) == 1, "one document saved:\n" + out)
    with open(saved[0], "rb") as f:
        expect(f.read(5) == b"%PDF-", "the saved quote is a PDF")
    expect(os.path.dirname(saved[0]) == os.path.join(work, "pdf"),
           "saved in the PDF folder: " + saved[0])


def test_everything_it_started_is_stopped():
    rc, out, work = RESULT.get("hola") or chat("stop", ["hola"])
    expect("Listo." in out, "the chat says it stopped everything:\n" + out)
    left = processes_under(HOME) + processes_under(work)
    expect(not left, "nothing left running: %s" % left)


def test_unknown_customer_and_bad_pick_are_handled():
    rc, out, work = chat("unknown", ["/quien 99", "0", "13", "cuánto debo?"],
                         who=1)
    expect(rc == 0, "chat exit code %d:\n%s" % (rc, out))
    expect("Elegí un número de 1 a 13." in out,
           "an impossible customer number is refused:\n" + out)
    expect("Ahora sos Jorge Romero (Un número desconocido" in out,
           "the unknown number can be chosen:\n" + out)
    expect(stored_in(work, "5493417770001") == ["cuánto debo?"],
           "the message is stored as the unknown number's")
    # The account needs to know who it is: the CUIT is asked then (and
    # only then: a greeting is just answered).
    reply = after(out, "vos> cuánto debo?\n")
    expect("Ovidio › " in reply and "CUIT" in reply,
           "an unknown number asking for its account is asked for a CUIT:\n"
           + out)
    left = processes_under(work)
    expect(not left, "nothing left running: %s" % left)


if __name__ == "__main__":
    r = Runner()
    r.run(test_chat_from_hola_to_a_quote_pdf)
    r.run(test_everything_it_started_is_stopped)
    r.run(test_unknown_customer_and_bad_pick_are_handled)
    sys.exit(r.finish())
