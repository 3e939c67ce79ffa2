"""People: the user account (e-mail is the login) and platform-wide role grants."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from aiplatform.roles import PlatformRole


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        user = self._create_user(email, password, **extra)
        PlatformRoleGrant.objects.get_or_create(user=user, role=PlatformRole.PLATFORM_ADMIN)
        return user


class User(AbstractBaseUser, PermissionsMixin):
    """An employee. Signs in with e-mail and password, or through the company's SSO."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May open the Django admin (platform admins).")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    @property
    def platform_roles(self) -> frozenset[str]:
        """The platform roles held, read once per user object."""
        cached = getattr(self, "_platform_roles", None)
        if cached is None:
            cached = frozenset(self.platform_role_grants.values_list("role", flat=True)) if self.pk else frozenset()
            self._platform_roles = cached
        return cached

    @property
    def is_platform_admin(self) -> bool:
        return PlatformRole.PLATFORM_ADMIN in self.platform_roles

    @property
    def is_auditor(self) -> bool:
        return PlatformRole.AUDITOR in self.platform_roles

    @property
    def is_model_owner(self) -> bool:
        return PlatformRole.MODEL_OWNER in self.platform_roles


class PlatformRoleGrant(models.Model):
    """One platform role held by one user. Granted and revoked only through services."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="platform_role_grants")
    role = models.CharField(max_length=32, choices=PlatformRole.choices)
    granted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="platform_role_once_per_user")]

    def __str__(self) -> str:
        return f"{self.user} is {self.get_role_display()}"
