"""The site, rendered: feeds (Atom, RSS, JSON Feed), pages, the OPML catalog, static files. Pure: imports only `bot.core`."""
