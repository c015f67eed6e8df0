"""Speaker identification by name on synthesised conversations with known names (text level).

    python bench/speaker_identification.py [--n 200] [--seed 16]

Each conversation has 2-3 speakers with names drawn from NAMES; turns come from TEMPLATES: some introduce
the speaker, some address another speaker by name, some mention a third person who is not in the call
(a distractor), most name nobody. Utterances carry the true labels, so this scores
`server.intelligence.speaker_identification` alone (not ASR or diarization). A label counts as right when
the mapping gives it its true name (or its first name, when only that was said); a wrong name is worse
than none, so both are reported. The templates were written apart from the patterns, but by the same
person: treat the figure as a check of the method, not a field accuracy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import print_table  # noqa: E402
from server.intelligence import speaker_identification  # noqa: E402

NAMES = ["Maria Lopez", "Daniel Brooks", "Aisha Khan", "Tom Becker", "Laura Chen", "Peter Novak",
         "Sarah Miller", "James Okafor", "Elena Rossi", "David Kim"]  # fmt: skip
OUTSIDERS = ["Michael Jordan", "Emma Watson", "George Washington"]
INTRO = ["Hi everyone, my name is {me}.", "Good morning, I'm {me} from the sales team.",
         "This is {me}, calling about the invoice.", "{me} here, thanks for joining.",
         "Hello, I am {first} and I lead the project."]  # fmt: skip
ADDRESS = ["Thanks, {other_first}.", "What do you think, {other_first}?", "Hi {other_first}, hi.",
           "{other_first}, can you share the numbers?"]  # fmt: skip
MENTION = ["I read that {outsider} said the same thing.", "My cousin met {outsider} once."]
PLAIN = ["We should look at the budget first.", "I agree with that plan.", "The report is due next week.",
         "Let me check my notes.", "That sounds good to me.", "Can we move on to the next item?"]  # fmt: skip


def conversation(rng: np.random.Generator) -> tuple[list[dict], dict[str, str]]:
    k = int(rng.integers(2, 4))
    names = [str(n) for n in rng.choice(NAMES, size=k, replace=False)]
    labels = "ABC"[:k]
    utterances = []
    for turn in range(8):
        i = turn % k if rng.random() < 0.8 else int(rng.integers(0, k))
        other = names[(i + 1) % k]
        r = rng.random()
        if turn < k and rng.random() < 0.6:
            t = str(rng.choice(INTRO))
        elif r < 0.25:
            t = str(rng.choice(ADDRESS))
        elif r < 0.35:
            t = str(rng.choice(MENTION))
        else:
            t = str(rng.choice(PLAIN))
        text = t.format(me=names[i], first=names[i].split()[0], other_first=other.split()[0],
                        outsider=str(rng.choice(OUTSIDERS)))  # fmt: skip
        utterances.append({"speaker": labels[i], "text": text})
    return utterances, dict(zip(labels, names, strict=True))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--seed", type=int, default=16)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    right = wrong = none = nameable = 0
    for _ in range(args.n):
        utterances, truth = conversation(rng)
        mapping = speaker_identification.identify(utterances, {"speaker_type": "name"})
        talk = " ".join(u["text"] for u in utterances)
        for label, name in truth.items():
            got = mapping.get(label)
            nameable += name.split()[0] in talk
            said = got in (name, name.split()[0])  # a first name is right when only it was said
            right += said
            none += got is None
            wrong += got is not None and not said
    total = right + wrong + none
    print_table(
        f"Speaker names on {args.n} synthesised conversations ({total} speakers)",
        ["right", "wrong", "no name", "name said at all"],
        [[right / total, wrong / total, none / total, nameable / total]],
    )


if __name__ == "__main__":
    main()
