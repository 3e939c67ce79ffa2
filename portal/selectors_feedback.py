"""Reading feedback: the owners' review queue, the answers it is about, and a model card's summary.

Feedback is reviewed by the alias's owners whatever team made the call, so the queue is scoped by
alias ownership (platform admins see all), not by team membership.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from portal.models import ChatMessage, ComparedAnswer, Comparison, Feedback
from portal.models.feedback import Category, Rating, Source
from portal.models.playground import Role
from registry.models import ModelAlias
from registry.selectors import aliases_owned_by

SUMMARY_WEEKS = 8
TOP_CATEGORIES = 3
EXCERPT_CHARS = 400


def reviewable_aliases(user) -> QuerySet[ModelAlias]:
    """The aliases whose feedback ``user`` reviews: every alias for a platform admin, else those they own."""
    return ModelAlias.objects.order_by("name") if user.is_platform_admin else aliases_owned_by(user)


def feedback_for_reviewer(user) -> QuerySet[Feedback]:
    """All feedback on the aliases ``user`` reviews, newest first, with its author loaded."""
    feedback = Feedback.objects.select_related("user", "application", "key", "tenant", "triaged_by", "resolved_by")
    if not user.is_platform_admin:
        feedback = feedback.filter(alias__in=aliases_owned_by(user).values("name"))
    return feedback.order_by("-created_at", "-pk")


def feedback_queue(user, *, status: str = "", alias: str = "", rating: str = "",
                   category: str = "") -> QuerySet[Feedback]:
    """The review queue filtered as the page asks (each filter empty: any)."""
    feedback = feedback_for_reviewer(user)
    for name, value in (("status", status), ("alias", alias), ("rating", rating), ("category", category)):
        if value:
            feedback = feedback.filter(**{name: value})
    return feedback


def with_answer_excerpts(feedback: list[Feedback]) -> list[Feedback]:
    """Set ``answer_excerpt`` on each playground feedback: the start of the answer it rates ('' if gone).

    Only the model's answer, never the person's prompt (two queries for the whole page).
    """
    wanted = {(f.request_id, f.user_id) for f in feedback if f.source == Source.PLAYGROUND}
    ids = {request_id for request_id, _ in wanted}
    found: dict[tuple[str, int], str] = {}
    if ids:
        turns = ChatMessage.objects.filter(request_id__in=ids, role=Role.ASSISTANT).values_list(
            "request_id", "conversation__user_id", "content")
        compared = ComparedAnswer.objects.filter(request_id__in=ids).values_list(
            "request_id", "comparison__user_id", "content")
        for request_id, user_id, content in [*turns, *compared]:
            found.setdefault((request_id, user_id), content[:EXCERPT_CHARS])
    for f in feedback:
        f.answer_excerpt = found.get((f.request_id, f.user_id), "")
    return feedback


# --- a model card's summary ---------------------------------------------------------------------------

@dataclass(frozen=True)
class CategoryCount:
    value: str
    label: str
    count: int


@dataclass(frozen=True)
class Tally:
    """Feedback over one span of time."""

    total: int
    positive: int
    negative: int
    top_categories: tuple[CategoryCount, ...]  # of the thumbs-down, most frequent first

    @property
    def share_positive(self) -> int | None:
        """Percent of thumbs-up, rounded; None without feedback."""
        return round(100 * self.positive / self.total) if self.total else None


@dataclass(frozen=True)
class Week:
    starts: date
    total: int
    positive: int

    @property
    def share_positive(self) -> int | None:
        return round(100 * self.positive / self.total) if self.total else None


@dataclass(frozen=True)
class FeedbackSummary:
    alias: str
    last_30_days: Tally
    all_time: Tally
    weeks: tuple[Week, ...]  # the last SUMMARY_WEEKS weeks (Monday first), oldest first, empty weeks included
    compare_entered: int  # voted comparisons in which the alias answered
    compare_won: int  # ... whose vote went to its answer

    @property
    def compare_share_won(self) -> int | None:
        return round(100 * self.compare_won / self.compare_entered) if self.compare_entered else None

    @property
    def is_empty(self) -> bool:
        return not self.all_time.total and not self.compare_entered


def _tally(feedback: QuerySet[Feedback]) -> Tally:
    counts = feedback.aggregate(total=Count("pk"), positive=Count("pk", filter=Q(rating=Rating.UP)),
                                negative=Count("pk", filter=Q(rating=Rating.DOWN)))
    rows = (feedback.filter(rating=Rating.DOWN).exclude(category="").values("category")
            .annotate(n=Count("pk")).order_by("-n", "category")[:TOP_CATEGORIES])
    labels = dict(Category.choices)
    top = tuple(CategoryCount(r["category"], labels.get(r["category"], r["category"]), r["n"]) for r in rows)
    return Tally(total=counts["total"], positive=counts["positive"], negative=counts["negative"], top_categories=top)


def _weeks(feedback: QuerySet[Feedback], today: date) -> tuple[Week, ...]:
    this_monday = today - timedelta(days=today.weekday())
    first = this_monday - timedelta(weeks=SUMMARY_WEEKS - 1)
    rows = (feedback.filter(created_at__date__gte=first).annotate(week=TruncWeek("created_at")).values("week")
            .annotate(total=Count("pk"), positive=Count("pk", filter=Q(rating=Rating.UP))))
    by_week = {(r["week"].date() if hasattr(r["week"], "date") else r["week"]): r for r in rows}
    weeks = []
    for n in range(SUMMARY_WEEKS):
        starts = first + timedelta(weeks=n)
        row = by_week.get(starts, {"total": 0, "positive": 0})
        weeks.append(Week(starts=starts, total=row["total"], positive=row["positive"]))
    return tuple(weeks)


def feedback_summary(alias: ModelAlias | str) -> FeedbackSummary:
    """What people said about ``alias``: thumbs and top categories (last 30 days, all time), by week, and
    how its answers fared in compare votes. For a model card; every figure is across all teams."""
    name = alias if isinstance(alias, str) else alias.name
    feedback = Feedback.objects.filter(alias=name)
    now = timezone.now()
    voted = Comparison.objects.filter(winner__isnull=False)
    return FeedbackSummary(
        alias=name,
        last_30_days=_tally(feedback.filter(created_at__gte=now - timedelta(days=30))),
        all_time=_tally(feedback),
        weeks=_weeks(feedback, timezone.localdate(now)),
        compare_entered=voted.filter(answers__alias=name).distinct().count(),
        compare_won=voted.filter(winner__alias=name).count(),
    )
