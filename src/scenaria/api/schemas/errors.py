"""The one shape of every refusal (4xx), shared by all routers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from scenaria.model.problems import Problem


class ProblemOut(BaseModel):
    node_id: str | None = Field(description="The node the problem is about; null: scenario-wide.")
    code: str = Field(description="A stable code, e.g. `start_not_connected`.")
    message: str
    blocks_save: bool = Field(description="True if the scenario cannot even be saved with it.")

    @classmethod
    def of(cls, p: Problem) -> ProblemOut:
        return cls(node_id=p.node_id, code=p.code, message=p.message, blocks_save=p.blocks_save)


class FieldErrorOut(BaseModel):
    loc: list[str | int]
    msg: str | None = None
    type: str | None = None


class ErrorOut(BaseModel):
    """Every refusal: a readable reason, and for scenario problems the list of them."""

    detail: str
    problems: list[ProblemOut] | None = None
    errors: list[FieldErrorOut] | None = None


GENERIC = {
    400: "The body could not be read (not UTF-8 JSON, broken multipart).",
    401: "No valid API token.",
    403: "Only an admin may do this.",
    404: "Not found, or outside the user's groups.",
    409: "Not possible in the current state.",
    422: "Invalid input; `detail` names each problem.",
}


def error_responses(*codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these status codes; ``descriptions`` as ``_404="..."``."""
    return {
        code: {
            "model": ErrorOut,
            "description": descriptions.get(f"_{code}", GENERIC[code]),
        }
        for code in codes
    }
