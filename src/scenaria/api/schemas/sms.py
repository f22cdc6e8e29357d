"""Shapes of the SMS gateway's delivery-status callback."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SmsStatusIn(BaseModel):
    """What the gateway reports; any further fields are kept with the event."""

    model_config = ConfigDict(extra="allow")

    reference: str = Field(min_length=1, max_length=200, description="The outbox key.")
    status: str = Field(min_length=1, max_length=40, description="delivered or failed.")


class SmsStatusOut(BaseModel):
    reference: str
    event: str
    profile_id: int
