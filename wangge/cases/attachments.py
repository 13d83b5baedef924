"""Photos added to events (issue 4 §2–3): real images only (JPEG, PNG or WebP, decoded with Pillow), of a bounded
size and count, stored under a random name. Checked in full before anything is written, so a bad file leaves no
half-written action behind."""

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _

from wangge.core.errors import DomainError

FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}


def max_bytes():
    return getattr(settings, "WANGGE_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)


def max_count():
    return getattr(settings, "WANGGE_ATTACHMENT_MAX_COUNT", 9)


@dataclass
class CheckedPhoto:
    name: str
    content: bytes
    extension: str
    content_type: str
    width: int
    height: int


def check_photos(files, field="photos"):
    """[CheckedPhoto] for uploaded files, or a DomainError naming the file and the reason."""
    from PIL import Image, UnidentifiedImageError

    files = list(files or [])
    if len(files) > max_count():
        raise DomainError(_("At most %(count)s photos per action.") % {"count": max_count()}, field=field)
    checked = []
    limit = max_bytes()
    for index, upload in enumerate(files):
        where = f"{field}[{index}]"
        name = str(getattr(upload, "name", "") or "photo")[-200:]
        size = getattr(upload, "size", None)
        if size is not None and size > limit:
            raise DomainError(_("%(name)s is larger than %(mb)s MB.") % {"name": name, "mb": limit // (1024 * 1024)},
                              field=where)
        content = upload.read(limit + 1)
        if len(content) > limit:
            raise DomainError(_("%(name)s is larger than %(mb)s MB.") % {"name": name, "mb": limit // (1024 * 1024)},
                              field=where)
        if not content:
            raise DomainError(_("%(name)s is empty.") % {"name": name}, field=where)
        try:
            import io

            with Image.open(io.BytesIO(content)) as image:
                image_format = image.format
                width, height = image.size
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise DomainError(_("%(name)s is not a JPEG, PNG or WebP image.") % {"name": name}, field=where) from exc
        if image_format not in FORMATS:
            raise DomainError(_("%(name)s is not a JPEG, PNG or WebP image.") % {"name": name}, field=where)
        extension, content_type = FORMATS[image_format]
        checked.append(CheckedPhoto(name, content, extension, content_type, width, height))
    return checked


def store_photos(event, checked, *, actor, timeline=None):
    """Saves checked photos as attachments of `event` (and of the timeline row they came with)."""
    from .models import EventAttachment

    rows = []
    for photo in checked:
        attachment = EventAttachment(event=event, timeline=timeline, name=photo.name, extension=photo.extension,
                                     content_type=photo.content_type, size=len(photo.content),
                                     sha256=hashlib.sha256(photo.content).hexdigest(), width=photo.width,
                                     height=photo.height, uploaded_by=actor)
        attachment.file.save(f"photo.{photo.extension}", ContentFile(photo.content), save=False)
        attachment.save()
        rows.append(attachment)
    return rows
