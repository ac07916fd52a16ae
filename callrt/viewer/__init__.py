"""The trace viewer: a static canvas page that renders one call's trace as swimlanes.

`routes.viewer_routes` serves it (list of recent traces, the page, the raw JSON lines);
`html.standalone_html` inlines page, assets and trace into one offline HTML file.
"""
