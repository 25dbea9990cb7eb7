"""Queries on activities."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from orchestrator.store.models import Activity


def by_arn(session: Session, arn: str) -> Activity | None:
    return session.scalar(select(Activity).where(Activity.arn == arn))


def by_name(session: Session, name: str) -> Activity | None:
    return session.scalar(select(Activity).where(Activity.name == name))


def add(session: Session, activity: Activity) -> Activity:
    session.add(activity)
    session.flush()
    return activity


def page(session: Session, *, after_id: int, limit: int) -> list[Activity]:
    return list(session.scalars(select(Activity).where(Activity.id > after_id).order_by(Activity.id).limit(limit)))


def remove(session: Session, activity_id: int) -> None:
    session.execute(delete(Activity).where(Activity.id == activity_id))
