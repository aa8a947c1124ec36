from __future__ import annotations

import pytest

from tests.server.conftest import Api
from tests.server.sync.helpers import World, build_world


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api)
