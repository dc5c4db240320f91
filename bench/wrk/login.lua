-- POST the body in the environment variable BODY (a sign-in) to the URL's path.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BODY")
