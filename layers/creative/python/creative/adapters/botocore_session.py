"""A botocore session that looks up only the services this code makes clients for.

Before loading a service's model, botocore's loader lists every service it ships only to check that the
name is one of them: 445 directories in this host's botocore 1.44 (the runtime's may differ), listed and
probed once for the service models and once for the endpoint rules, 17-26 ms of every cold start here (five
runs, collector paused). This loader answers the same question for the named services alone and loads the
same files from the same paths (AWS_DATA_PATH included).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import botocore.session
from botocore.loaders import Loader


class NamedServicesLoader(Loader):
    def __init__(self, search_paths: Iterable[str], services: Iterable[str]):
        super().__init__(extra_search_paths=list(search_paths), include_default_search_paths=False)
        self._services = frozenset(services)

    def list_available_services(self, type_name: str) -> list[str]:
        """The named services that have a `type_name` model; a client for any other service is refused
        by botocore with UnknownServiceError, as for a misspelt name."""
        return sorted(service for service in self._services if self._has_model(service, type_name))

    def _has_model(self, service: str, type_name: str) -> bool:
        # Public parts only (search_paths, file_loader): the runtime's botocore is not the one tested here.
        directories = [os.path.join(path, service) for path in self.search_paths]
        return any(
            self.file_loader.exists(os.path.join(directory, version, type_name))
            for directory in directories
            if os.path.isdir(directory)
            for version in os.listdir(directory)
        )


def session_for(services: Iterable[str]) -> botocore.session.Session:
    session = botocore.session.get_session()
    default_loader = session.get_component("data_loader")  # honours AWS_DATA_PATH
    session.register_component("data_loader", NamedServicesLoader(default_loader.search_paths, services))
    return session
