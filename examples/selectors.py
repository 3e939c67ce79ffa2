"""The example store's reads. Every one starts from ``visible_to``: an example someone may not see is a 404,
exactly like one that does not exist.

Search is PostgreSQL full-text search in the full stack (title weighed above prompt above answer, the
``websearch`` syntax people know: quoted phrases, ``-word``, ``or``), ranked; on SQLite every word must
appear somewhere in the title, prompt or answer (case-insensitive), ordered by votes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet
from django.http import Http404

from aiplatform.models import Membership, User
from examples.models import Example, ExampleTag, Visibility

MAX_QUERY = 200


def visible_to(user: User) -> QuerySet[Example]:
    """What ``user`` may read: their own, their teams' team examples, and every company example."""
    if not getattr(user, "is_authenticated", False):
        return Example.objects.none()
    teams = Membership.objects.filter(user=user).values("tenant_id")
    return Example.objects.filter(Q(author=user) | Q(visibility=Visibility.COMPANY)
                                  | Q(visibility=Visibility.TEAM, tenant_id__in=teams))


def example_for(user: User, pk: int) -> Example:
    found = visible_to(user).filter(pk=pk).select_related("author", "tenant").prefetch_related("tags").first()
    if found is None:
        raise Http404("No such example.")
    return found


@dataclass(frozen=True)
class ExampleSearch:
    q: str = ""
    tag: str = ""
    alias: str = ""

    @classmethod
    def from_params(cls, params) -> ExampleSearch:
        return cls(q=(params.get("q") or "").strip()[:MAX_QUERY], tag=(params.get("tag") or "").strip()[:50],
                   alias=(params.get("alias") or "").strip()[:100])

    @property
    def is_empty(self) -> bool:
        return not (self.q or self.tag or self.alias)


def search(user: User, criteria: ExampleSearch) -> QuerySet[Example]:
    found = visible_to(user)
    if criteria.tag:
        found = found.filter(tags__name=criteria.tag)
    if criteria.alias:
        found = found.filter(alias=criteria.alias)
    if criteria.q:
        found = _full_text(found, criteria.q)
    return found.select_related("author", "tenant").prefetch_related("tags")


def _full_text(found: QuerySet[Example], q: str) -> QuerySet[Example]:
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

        vector = (SearchVector("title", weight="A", config="english")
                  + SearchVector("prompt", weight="B", config="english")
                  + SearchVector("answer", weight="C", config="english"))
        query = SearchQuery(q, search_type="websearch", config="english")
        return (found.annotate(document=vector).filter(document=query)
                .annotate(rank=SearchRank(vector, query)).order_by("-rank", "-upvotes", "-created_at"))
    for word in q.split()[:20]:
        found = found.filter(Q(title__icontains=word) | Q(prompt__icontains=word) | Q(answer__icontains=word))
    return found


def tag_counts(user: User) -> list[tuple[str, int]]:
    """The use cases of the examples ``user`` may see, most used first: the list page's "by use case"."""
    counts = Counter(ExampleTag.objects.filter(example__in=visible_to(user)).values_list("name", flat=True))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def alias_counts(user: User) -> list[tuple[str, int]]:
    counts = Counter(visible_to(user).values_list("alias", flat=True))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def best_for_alias(user: User, alias: str, *, use_case: str = "", limit: int = 3) -> list[Example]:
    """A model's best examples (for ``use_case`` when given): the most upvoted ones ``user`` may see, none
    reported outdated."""
    found = visible_to(user).filter(alias=alias, outdated_reports=0)
    if use_case:
        found = found.filter(tags__name=use_case)
    return list(found.prefetch_related("tags").order_by("-upvotes", "-created_at")[:limit])


def voted(user: User, example: Example) -> bool:
    return example.votes.filter(user=user).exists()


def reported(user: User, example: Example) -> bool:
    return example.reports.filter(user=user).exists()
