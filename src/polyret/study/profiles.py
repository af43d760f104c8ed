"""Study profiles: how much of XQuAD-R a `polyret run` covers, sized for the machine it runs on.

Timings in the README were measured on the 2-core CPU machine this project is developed on.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ProfileName = Literal["smoke", "quick", "full"]


class Profile(BaseModel):
    """The evaluation subset and grid of one profile."""

    name: ProfileName
    languages: list[str] | None = Field(None, description="XQuAD-R languages (None: all 11)")
    articles: int | None = Field(None, description="first K aligned XQuAD-R articles (None: all 48)")
    strategies: list[str] = Field(
        default_factory=lambda: ["zero_shot", "zero_shot+center", "zero_shot+subspace"])
    transform_source: str = Field("tatoeba", description="statistics of the training-free baselines")
    transform_max_per_language: int = Field(500, ge=1)
    subspace_k: int | None = Field(None, description="zero_shot+subspace: directions removed (None: languages - 1)")


PROFILES: dict[str, Profile] = {
    # seconds: CI runs this one
    "smoke": Profile(name="smoke", languages=["ar", "de", "en", "zh"], articles=1),
    # minutes: the default, all 11 languages on the DESIGN.md probe subset
    "quick": Profile(name="quick", articles=4),
    # the whole benchmark (about 40 minutes of encoding per model on a 2-core CPU; minutes on a GPU)
    "full": Profile(name="full"),
}

# Strategies the study knows; only those with an implementation can be run (see the README's roadmap).
IMPLEMENTED_STRATEGIES = ("zero_shot", "zero_shot+center", "zero_shot+subspace")
PLANNED_STRATEGIES = ("x_x_mono", "x_y", "hybrid", "hybrid+noise", "x_x", "en_en")
