"""SharePoint permissions -> principals and ACLs, on hand-written Graph and REST bodies."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from connectors.sharepoint.access import Access, binding_reads, grants_read
from connectors.sharepoint.errors import SharePointNotFound, microsoft_message
from connectors.sharepoint.principals import Namer, site_guid
from core.acl import Acl

NS = "group:sharepoint:sp:"
SITE = "contoso.sharepoint.com,2c1b7a3e-0000-4000-8000-000000000001,9d0c0000-0000-4000-8000-000000000002"
GUID = "2c1b7a3e-0000-4000-8000-000000000001"
OID = "6f1e0000-aaaa-4bbb-8ccc-000000000003"


class FakeClient:
    """Graph collections and REST collections by path, as lists of objects."""

    def __init__(self, graph: Mapping[str, list[dict[str, Any]]], rest: Mapping[str, list[dict[str, Any]]] | None = None) -> None:
        self.graph = graph
        self.rest = rest or {}

    def paged(self, path: str, params: Any = None) -> Iterator[dict[str, Any]]:
        if path not in self.graph:
            raise SharePointNotFound(f"GET {path} -> 404", status=404)
        yield from self.graph[path]

    def rest_paged(self, site_path: str, api: str, params: Any = None) -> Iterator[dict[str, Any]]:
        key = f"{site_path}|{api}"
        if key not in self.rest:
            raise SharePointNotFound(f"GET {key} -> 404", status=404)
        yield from self.rest[key]


def access(client: FakeClient, anonymous: tuple[str, ...] = ()) -> Access:
    return Access(client, Namer(NS), anonymous)  # type: ignore[arg-type]


def perm(roles: list[str], **fields: Any) -> dict[str, Any]:
    return {"id": "p", "roles": roles, **fields}


def test_site_guid_is_the_site_collection_part_of_a_graph_site_id() -> None:
    assert site_guid(SITE) == GUID


@pytest.mark.parametrize(("login", "email", "expected"), [
    ("i:0#.f|membership|Ana@Contoso.example", None, ["user:ana@contoso.example"]),
    (f"c:0t.c|tenant|{OID}", None, [f"group:aad:{OID}", f"{NS}aad:{OID}"]),
    (f"c:0o.c|federateddirectoryclaimprovider|{OID}", None, [f"group:aad:{OID}", f"{NS}aad:{OID}"]),
    (f"c:0o.c|federateddirectoryclaimprovider|{OID}_o", None, []),  # the group's owners only
    ("c:0-.f|rolemanager|spo-grid-all-users/72f988bf-0000-0000-0000-000000000000", None, ["org:members"]),
    ("c:0(.s|true", None, ["org:members"]),
    ("SHAREPOINT\\system", None, []),
])
def test_login_names(login: str, email: str | None, expected: list[str]) -> None:
    assert Namer(NS).login(login, email) == expected


def test_roles_that_read_and_limited_access_that_does_not() -> None:
    assert grants_read(["read"]) and grants_read(["write"]) and grants_read(["owner"])
    assert not grants_read(["sp.limited access"]) and not grants_read([]) and not grants_read(["Limited Access"])
    assert binding_reads({"Name": "Read", "RoleTypeKind": 2})
    assert not binding_reads({"Name": "Limited Access", "RoleTypeKind": 1})
    # BasePermissions decide when present: ViewListItems is bit 0x1 of Low
    assert binding_reads({"Name": "Read", "RoleTypeKind": 2, "BasePermissions": {"Low": "0", "High": "0"}})
    # a custom level (RoleTypeKind 0): ViewListItems is bit 0x1 of BasePermissions.Low
    assert not binding_reads({"Name": "Custom", "RoleTypeKind": 0, "BasePermissions": {"Low": "134418528", "High": "0"}})
    assert binding_reads({"Name": "Custom", "RoleTypeKind": 0, "BasePermissions": {"Low": "138612833", "High": "176"}})


def test_every_kind_of_graph_permission_maps_to_its_principal() -> None:
    a = access(FakeClient({}), anonymous=())
    assert a.permission_principals(perm(["read"], grantedToV2={"user": {"email": "Ana@contoso.example"}}), GUID) == ["user:ana@contoso.example"]
    assert a.permission_principals(perm(["write"], grantedToV2={"group": {"id": OID}}), GUID) == [f"group:aad:{OID}", f"{NS}aad:{OID}"]
    assert a.permission_principals(perm(["owner"], grantedToV2={"siteGroup": {"id": "3", "displayName": "HR Owners"}}), GUID) == [f"{NS}sitegroup:{GUID}:3"]
    assert a.permission_principals(perm(["read"], link={"scope": "organization", "type": "view"}), GUID) == ["org:members"]
    people = perm(["read"], link={"scope": "users", "type": "view"},
                  grantedToIdentitiesV2=[{"user": {"email": "y@contoso.example"}}, {"user": {"email": "z@contoso.example"}}])
    assert a.permission_principals(people, GUID) == ["user:y@contoso.example", "user:z@contoso.example"]
    assert a.permission_principals(perm(["read"], link={"scope": "anonymous", "type": "view"}), GUID) == []
    assert a.permission_principals(perm(["sp.limited access"], grantedToV2={"user": {"email": "l@contoso.example"}}), GUID) == []
    everyone = perm(["read"], grantedToV2={"siteGroup": {"displayName": "Everyone except external users", "id": "9"}})
    assert a.permission_principals(everyone, GUID) == ["org:members"]


def test_anonymous_links_give_what_the_setting_says() -> None:
    a = access(FakeClient({}), anonymous=("org:members",))
    assert a.permission_principals(perm(["read"], link={"scope": "anonymous"}), GUID) == ["org:members"]


def test_a_file_acl_is_one_clause_of_every_reader_and_none_when_nobody_reads() -> None:
    path = "drives/d/items/i/permissions"
    inherited = {"inheritedFrom": {"id": "root"}}
    client = FakeClient({path: [
        perm(["read"], grantedToV2={"siteGroup": {"id": "5"}}, **inherited),
        perm(["read"], grantedToV2={"user": {"email": "ana@contoso.example"}}),
        perm(["sp.limited access"], grantedToV2={"user": {"email": "lim@contoso.example"}}),
    ], "drives/d/items/j/permissions": [perm(["sp.limited access"], grantedToV2={"user": {"email": "lim@contoso.example"}})]})
    acl = access(client).file_acl("d", "i", GUID)
    assert acl == Acl.of([[f"{NS}sitegroup:{GUID}:5", "user:ana@contoso.example"]])
    assert not acl.allows(["user:lim@contoso.example", "org:members"])
    assert access(client).file_acl("d", "j", GUID) is None
    with pytest.raises(SharePointNotFound):
        access(client).file_acl("d", "gone", GUID)


def test_site_acl_from_rest_role_assignments_skips_limited_access() -> None:
    client = FakeClient({}, {"/sites/hr|web/roleassignments": [
        {"Member": {"Id": 5, "PrincipalType": 8, "Title": "HR Members"}, "RoleDefinitionBindings": [{"Name": "Edit", "RoleTypeKind": 6}]},
        {"Member": {"Id": 12, "PrincipalType": 1, "LoginName": "i:0#.f|membership|lim@contoso.example"},
         "RoleDefinitionBindings": [{"Name": "Limited Access", "RoleTypeKind": 1}]},
        {"Member": {"Id": 13, "PrincipalType": 4, "LoginName": f"c:0t.c|tenant|{OID}"},
         "RoleDefinitionBindings": {"results": [{"Name": "Read", "RoleTypeKind": 2}]}},
    ]})
    acl = access(client).site_acl("/sites/hr", GUID)
    assert acl == Acl.of([[f"{NS}sitegroup:{GUID}:5", f"group:aad:{OID}", f"{NS}aad:{OID}"]])


def test_site_group_members_expand_nested_entra_groups_transitively() -> None:
    client = FakeClient(
        {f"groups/{OID}/transitiveMembers": [
            {"@odata.type": "#microsoft.graph.user", "mail": "Deep@contoso.example"},
            {"@odata.type": "#microsoft.graph.group", "id": "x"},
            {"@odata.type": "#microsoft.graph.user", "mail": None, "userPrincipalName": "upn@contoso.example"},
        ]},
        {"/sites/hr|web/sitegroups/getbyid(5)/users": [
            {"LoginName": "i:0#.f|membership|ana@contoso.example", "Email": "ana@contoso.example", "PrincipalType": 1},
            {"LoginName": f"c:0t.c|tenant|{OID}", "PrincipalType": 4},
        ]},
    )
    a = access(client)
    assert a.site_group_members("/sites/hr", "5") == {"ana@contoso.example", "deep@contoso.example", "upn@contoso.example"}
    assert a.site_group_members("/sites/hr", "77") == frozenset()  # a deleted group: nobody


def test_namer_round_trips_its_own_principals_only() -> None:
    namer = Namer(NS)
    group = namer.site_group(GUID, 5)
    assert group is not None and namer.parse_site_group(group) == (GUID, "5")
    assert namer.parse_aad(f"{NS}aad:{OID}") == OID
    assert namer.parse_site_group("group:sharepoint:other:sitegroup:x:5") is None
    assert namer.parse_aad(f"group:aad:{OID}") is None


def test_error_messages_of_graph_and_rest() -> None:
    assert microsoft_message({"error": {"code": "accessDenied", "message": "Nope"}}) == "accessDenied: Nope"
    assert microsoft_message({"odata.error": {"code": "-2147024891", "message": {"value": "Access denied."}}}) == "-2147024891: Access denied."
    assert microsoft_message("<html>") == ""
