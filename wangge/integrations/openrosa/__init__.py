"""The OpenRosa server (issue 5 §6; https://docs.getodk.org/openrosa/): ODK Collect and Enketo, unmodified, as the
grid worker's offline client for screening campaigns.

    GET  {server}/formList                         the running campaigns the worker visits in (Form List API)
    GET  {server}/forms/<campaign>/form.xml        the campaign's XForm (its form version + the household picker)
    GET  {server}/forms/<campaign>/manifest        its media: households.csv, the worker's own households
    GET  {server}/forms/<campaign>/households.csv
    HEAD {server}/submission                       204, X-OpenRosa-Accept-Content-Length (pre-flight)
    POST {server}/submission                       multipart xml_submission_file (+ attachments) → a visit

{server} is /openrosa on this site. Every response carries X-OpenRosa-Version: 1.0. Users authenticate with their own
account: HTTP Digest (MD5, what Collect answers a challenge with over plain HTTP) or Basic over HTTPS (auth.py).
docs/openrosa.md is the set-up guide.
"""
