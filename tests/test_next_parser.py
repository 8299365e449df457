"""NExT's semantic parser and strict executor on hand-written explanations."""

from __future__ import annotations

import pytest

from leanlife_next.execute import holds
from leanlife_next.logic import from_json, to_json
from leanlife_next.parser import ParseError, parse
from leanlife_next.tokens import instance_from_placeholders, instance_from_text

RELATION = instance_from_placeholders("the SUBJ-PERSON 's daughter OBJ-PERSON said on Tuesday")
ASPECT = instance_from_placeholders("Quality ingredients and a very fair $T$ for NYC .")


@pytest.mark.parametrize("explanation, sentence, expected", [
    ('SUBJ and OBJ sandwich the phrase "\'s daughter" and SUBJ precedes OBJ', RELATION,
     '"\'s daughter" occurs between SUBJ and OBJ AND SUBJ occurs before OBJ'),
    ('There is only one phrase "\'s daughter" between SUBJ and OBJ', RELATION,
     'the only words between SUBJ and OBJ are "\'s daughter"'),
    ("There are no more than two words between SUBJ and OBJ", RELATION,
     "at most 2 words between SUBJ and OBJ"),
    ("The word 'said' is right after Y", RELATION, '"said" occurs directly after OBJ'),
    ("$T$ is directly preceded by 'fair'", ASPECT, '"fair" occurs directly before $T$'),
    ("The word 'very' occurs within 2 words before $T$", ASPECT,
     '"very" occurs at most 2 words before $T$'),
    ("The $T$ is preceded by 'fair' and followed by 'for'", ASPECT,
     '"fair" occurs before $T$ AND "for" occurs after $T$'),
    ("The words 'quality' and 'fair' come before $T$", ASPECT,
     '"quality" occurs before $T$ AND "fair" occurs before $T$'),
    ("The word 'awful' does not occur before $T$", ASPECT, 'NOT "awful" occurs before $T$'),
    ("The sentence starts with 'quality' or contains 'terrible'", ASPECT,
     '"quality" occurs at the start of the sentence OR "terrible" occurs in the sentence'),
    ("OBJ-PERSON is right after SUBJ", instance_from_placeholders("SUBJ-PERSON OBJ-PERSON ."),
     "OBJ occurs directly after SUBJ AND OBJ is a PERSON"),
])
def test_explanations_parse_into_the_expected_form_that_holds(explanation, sentence, expected):
    reading = parse(explanation, sentence)
    assert reading.readable == expected
    assert reading.weakened == ()
    assert holds(reading.formula, sentence)
    assert from_json(to_json(reading.formula)) == reading.formula


def test_a_reading_that_fails_elsewhere_is_told_apart():
    formula = parse("The word 'fair' is directly before $T$").formula
    assert not holds(formula, instance_from_placeholders("a fair and very good $T$"))
    assert holds(formula, instance_from_placeholders("a very fair $T$"))


def test_a_wrong_count_is_weakened_and_reported():
    reading = parse('"daughter" occurs between SUBJ and OBJ and there are no more than 0 words '
                    'between SUBJ and OBJ', RELATION)
    assert [w.render() for w in reading.weakened] == ["at most 0 words between SUBJ and OBJ"]
    assert reading.readable == '"daughter" occurs between SUBJ and OBJ'


def test_a_phrase_absent_from_its_sentence_is_refused():
    with pytest.raises(ParseError, match="holds on its own sentence"):
        parse("The word 'terrible' is right before $T$", ASPECT)


def test_gibberish_is_refused():
    with pytest.raises(ParseError, match="covers the whole explanation"):
        parse("because I said so and between", ASPECT)


def test_raw_text_with_character_spans_counts_words_like_the_data_sets():
    text = "Mary Smith's daughter Ann said hello."
    instance = instance_from_text(text, {"SUBJ": (0, 10, "PER"), "OBJ": (22, 25, "PER")})
    assert instance.tokens[:4] == ("SUBJ-PER", "'s", "daughter", "OBJ-PER")
    reading = parse("There are no more than two words between SUBJ and OBJ and 'Hello' follows OBJ",
                    instance)
    assert holds(reading.formula, instance)
