-- POST one small JSON record per request.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"text":"benchmark message lorem ipsum dolor sit amet"}'
