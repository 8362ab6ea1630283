"""The HTML of ``wsgi-session demo``'s pages, as ``string.Template`` objects.

Every ``$value`` is filled HTML-escaped by :func:`wsgi_session.demo._render`
unless it is Markup (the hidden inputs, rendered fragments). Every POST form
carries ``$csrf``, the CSRF token input (the demo runs ``csrf="check"``), and
``$hidden``, the session id input of clients without cookies.
"""

from __future__ import annotations

import string

LAYOUT = string.Template("""\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title · wsgi_session demo</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 42rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; }
nav { display: flex; gap: 1rem; align-items: center; border-bottom: 1px solid #ccc;
      padding-bottom: .5rem; }
nav form { margin: 0 0 0 auto; }
.flash { background: #e8f4e8; border: 1px solid #9c9; padding: .5rem 1rem; }
.notice { background: #fdf3d8; border: 1px solid #d9b64c; padding: .5rem 1rem; }
.error { color: #b00; }
footer { margin-top: 2rem; border-top: 1px solid #ccc; font-size: .9rem; color: #555; }
</style>
</head>
<body>
<nav>
<a id="home-link" href="$home_url">Home</a>
<a id="profile-link" href="$profile_url">Profile</a>
$account
</nav>
<main>
$notice
$flash
<h1>$title</h1>
$content
</main>
<footer>
<p id="tracking" data-tracking="$tracking">$tracking_text</p>
</footer>
</body>
</html>
""")

LOGGED_IN = string.Template("""\
<a id="sessions-link" href="$sessions_url">Your sessions</a>
<span id="user">Signed in as <strong>$user</strong></span>
<form id="logout-form" method="post" action="/logout">$hidden$csrf\
<button id="logout">Log out</button></form>""")

LOGGED_OUT = string.Template('<a id="login-link" href="$login_url">Log in</a>')

FLASH = string.Template('<p class="flash" id="flash" role="status">$message</p>')

NOTICE = string.Template('<p class="notice" id="notice" role="status">$message</p>')

ERROR = string.Template('<span class="error" id="$field-error">$message</span>')

HOME = string.Template("""\
<p>A legacy-style WSGI app wrapped by <code>SessionMiddleware</code>: its session
lives on the server, your browser holds only a signed, random id.</p>
<ul>
<li><a id="login-page" href="$login_url">Log in</a>
  (any user name; the password is <code>$password</code>)</li>
<li><a id="profile-page" href="$profile_url">Your profile</a>:
  a search form (GET) and a note kept in the session (POST)</li>
<li><a id="search-link" href="$search_url">Search the profile for “wsgi”</a>
  (a link with its own query string)</li>
</ul>
<p>Turn cookies off in your browser and try again: the session then travels in
the URL, and everything still works.</p>""")

LOGIN = string.Template("""\
<form id="login-form" method="post" action="/login" novalidate>
$hidden
$csrf
<p><label>User name
<input name="username" value="$username" autocomplete="username"></label>
$username_error</p>
<p><label>Password
<input name="password" type="password" autocomplete="current-password"></label>
$password_error</p>
<p><button id="login-button">Log in</button>
(any user name; the password is <code>$password</code>)</p>
</form>""")

PROFILE = string.Template("""\
<p>Signed in as <strong>$user</strong> since $since.</p>
<h2>Search</h2>
<form id="search-form" method="get" action="/profile">
$hidden
<input name="q" type="search" value="$query" aria-label="Search WSGI servers">
<button id="search-button">Search</button>
</form>
$results
<h2>Your note</h2>
<form id="note-form" method="post" action="/profile">
$hidden
$csrf
<p><textarea name="note" rows="4" cols="40" aria-label="Note">$note</textarea>
$note_error</p>
<p><button id="save-button">Save</button> (at most $limit characters)</p>
</form>""")

LOGOUT = string.Template("""\
<form id="logout-page-form" method="post" action="/logout">
$hidden
$csrf
<p><button>Log out</button></p>
</form>""")

NOT_FOUND = string.Template(
    '<p>There is no page here. <a href="$home_url">Back to the home page</a>.</p>'
)

SESSIONS = string.Template("""\
<p>You are signed in as <strong>$user</strong> in these sessions (binding a
session to its user is <code>user_key</code>):</p>
<table id="sessions">
<tr><th>Browser</th><th>Signed in</th><th>Last used</th><th>Travels by</th></tr>
$rows
</table>
<form id="end-others-form" method="post" action="/sessions">
$hidden
$csrf
<p><button id="end-others">Log out other devices</button></p>
</form>""")

SESSION_ROW = string.Template(
    '<tr class="$css"><td>$agent$marker</td><td>$created</td>'
    "<td>$last_used</td><td>$tracking</td></tr>"
)
