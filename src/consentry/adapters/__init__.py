"""The adapters: the command line (cli/), the HTTP API (api/) and the web app (web/). They parse input, call
:mod:`consentry.services`, and word the answers for their users; none of them touches the store.
"""
