"""Registries of the policy's plug-ins (pin presets, gates): a name -> the module and the
pydantic model that holds its options, imported on first use.

A policy names one or two presets and a few gates; importing all of them (their models,
kstatus's rules, Fleet's words) cost ~30 ms of CPU on every `rollout plan`. Validation goes
through pydantic-core's own tagged union, whose members are small functions that import
their model when the first value with their tag arrives: the errors (unknown tag, missing
tag, a field's error and its loc) are the ones the union of the models gives. The JSON
Schema and the error messages' walk of the policy's types (`members`) import them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from types import ModuleType
from typing import Any


class Registry(Mapping[str, type]):
    """name -> model class, in registration order; `registry[name]` imports its module.
    Iterating gives the names without importing anything."""

    def __init__(self, entries: Mapping[str, str]):
        self._where = dict(entries)  # name -> "package.module:ClassName"
        self._models: dict[str, type] = {}

    def module(self, name: str) -> ModuleType:
        return importlib.import_module(self._where[name].partition(":")[0])

    def __getitem__(self, name: str) -> type:
        model = self._models.get(name)
        if model is None:
            module, _, attribute = self._where[name].partition(":")
            model = self._models[name] = getattr(importlib.import_module(module), attribute)
        return model

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, name: object) -> bool:
        return name in self._where

    def modules(self) -> frozenset[str]:
        return frozenset(where.partition(":")[0] for where in self._where.values())


def _validate(registry: Registry, name: str, value: Any) -> Any:
    # A ValidationError raised here becomes the union's own line errors, under its tag.
    return registry[name].model_validate(value)


class LazyUnion:
    """`Annotated[Base, LazyUnion(registry, discriminator)]`: the tagged union of the
    registry's models, each imported when a value with its tag is validated.
    `discriminator`: a field name (its value is the tag) or a callable (value -> tag or
    None), with pydantic's `custom_error_*` for an unknown tag."""

    def __init__(self, registry: Registry, discriminator: str | Callable[[Any], str | None],
                 custom_error_type: str | None = None, custom_error_message: str | None = None):
        self.registry = registry
        self.discriminator = discriminator
        self.custom_error_type = custom_error_type
        self.custom_error_message = custom_error_message

    def eager(self) -> Any:
        """The same union over the models themselves (all imported): for the JSON Schema and
        for walking the policy's types."""
        from typing import Annotated, Union

        from pydantic import Discriminator, Field, Tag

        if isinstance(self.discriminator, str):
            return Annotated[Union[tuple(self.registry.values())], Field(discriminator=self.discriminator)]
        members = tuple(Annotated[model, Tag(name)] for name, model in self.registry.items())
        return Annotated[Union[members], Discriminator(self.discriminator, custom_error_type=self.custom_error_type,
                                                       custom_error_message=self.custom_error_message)]

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        choices = {name: core_schema.no_info_plain_validator_function(partial(_validate, self.registry, name))
                   for name in self.registry}
        return core_schema.tagged_union_schema(
            choices, self.discriminator, custom_error_type=self.custom_error_type,
            custom_error_message=self.custom_error_message)

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> Any:
        from pydantic import TypeAdapter

        return handler(TypeAdapter(self.eager()).core_schema)
