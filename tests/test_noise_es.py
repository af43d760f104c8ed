"""Spanish rule table: each dialect target's families on hand-written sentences, exact outputs at rate 1."""

from __future__ import annotations

import pytest
from noise_cases import only_for

only = only_for("es")


@pytest.mark.parametrize("dialect, family, text, expected", [
    ("latam", "lexical", "Mi coche y mi móvil están aquí.", "Mi carro y mi celular 'tán acá."),
    ("latam", "lexical", "Vale, pues nos vemos.", "Órale, pos nos vemos."),
    ("latam", "morphosyntactic", "¿Vosotros habláis? Le vi ayer y había dos perros.",
     "¿Ustedes hablan? Lo vi ayer y habían dos perros."),
    ("latam", "morphosyntactic", "Ahora mi hermana llegará a casa.", "Ahorita mi hermana va a llegar a casa."),
    ("latam", "lexical", "Voy para el mar.", "Voy pal mar."),
    ("latam", "phonological", "La verdad de la edad.", "La verdá de la edá."),
    ("latam", "orthographic", "¿Cuántos años tiene?", "Cuantos años tiene?"),
    ("latam", "code_switching", "Voy a revisar el correo electrónico.", "Voy a chequear el email."),
    ("rio", "morphosyntactic", "¿Tú tienes tiempo? Eres muy amable.", "¿Vos tenés tiempo? Sos muy amable."),
    ("rio", "morphosyntactic", "¿Os conocéis? Estabais cansados y hablasteis poco.",
     "¿Se conocen? Estaban cansados y hablaron poco."),
    ("rio", "lexical", "El niño tiene mucho dinero para el autobús.", "El nene tiene mucha plata pal colectivo."),
    ("rio", "phonological", "La verdad de la edad.", "La verdá de la edá."),
    ("rio", "orthographic", "¿Qué quieres?", "Q quieres?"),
    ("rio", "code_switching", "Adiós, vamos a tomar una cerveza.", "Chau, vamos a tomar una birra."),
    ("and", "morphosyntactic", "¿Qué quieres tú?", "¿Qué tú quieres?"),
    ("and", "morphosyntactic", "Vosotros os vais mañana.", "Ustedes se vais mañana."),
    ("and", "lexical", "Mi niño es muy bueno.", "Mi chiquillo es mu bueno."),
    ("and", "phonological", "Los niños han entrado cansados.", "Lo niño han entrao cansao."),
    ("and", "orthographic", "¿Qué hora es?", "Q hora es?"),
    ("and", "code_switching", "Voy a revisar el correo electrónico.", "Voy a chequear el email."),
])
def test_each_family_of_each_dialect(dialect: str, family: str, text: str, expected: str) -> None:
    assert only(text, dialect, family) == expected


def test_rules_leave_lookalikes_alone() -> None:
    # the verb vale and the irregular future dirá are not the interjection and the regular future
    assert only("¿Cuánto vale? Lo dirá mañana.", "latam", "lexical", "morphosyntactic") == \
        "¿Cuánto vale? Lo dirá mañana."
    # final -d loss is written with the stress mark (verdá); coda r may also turn into l (veldá)
    assert only("La verdad de la edad.", "and", "phonological") in {"La verdá de la edá.", "La veldá de la edá."}
