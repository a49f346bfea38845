"""SCIM 2.0 (RFC 7643/7644) provisioning of people and groups, as Okta and Entra ID speak it."""
