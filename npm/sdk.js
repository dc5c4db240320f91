// rucksack-sdk for a script tag, as the Backpack SDK is installed:
//
//   <script src="https://your-server.example/sdk.js"></script>
//   <script>
//     const sdk = createSdk('https://your-server.example/', 'YOUR_API_KEY');
//     sdk.auth.login('user@users.com', 'my_password123').then(...);
//   </script>
//
// Defines the globals `createSdk` and `rucksack` ({ createSdk, ready, SdkError
// once loaded }). The SDK itself (the ES module and its WebAssembly, served by the
// server under /sdk/) loads in the background; `createSdk` can be called at once:
// until the SDK is ready, what it returns stands in for the real objects. Calls
// on a stand-in are queued and return promises of their results (a promise of
// the socket for `sdk.ws()`, whose `onmessage` may be set and whose `actions`
// may be called at once), properties set on it are set on the real object, and
// property reads are promises. `await rucksack.ready` to have the real objects.
(function (global) {
  'use strict';
  var script = global.document && global.document.currentScript;
  var base = new URL('sdk/', script && script.src ? script.src : global.location.href);
  var real = null;
  var ready = import(new URL('index.js', base).href).then(function (m) {
    real = m;
    api.SdkError = m.SdkError;
    api.connectSmartNgRX = m.connectSmartNgRX;
    return m;
  });
  ready.catch(function (e) {
    console.error('rucksack-sdk: the SDK did not load from ' + base.href, e);
  });

  // A stand-in for the value `promise` will give.
  function later(promise) {
    return new Proxy(function () {}, {
      get: function (_, p) {
        if (p === 'then' || p === 'catch' || p === 'finally') {
          return function () {
            return promise[p].apply(promise, arguments);
          };
        }
        return later(promise.then(function (v) {
          var x = v[p];
          return typeof x === 'function' ? x.bind(v) : x;
        }));
      },
      set: function (_, p, value) {
        promise.then(function (v) {
          v[p] = value;
        });
        return true;
      },
      apply: function (_, self, args) {
        return later(promise.then(function (f) {
          return f.apply(undefined, args);
        }));
      },
    });
  }

  function createSdk(url, apiKey, options) {
    if (real) return real.createSdk(url, apiKey, options);
    return later(ready.then(function (m) {
      return m.createSdk(url, apiKey, options);
    }));
  }

  var api = { createSdk: createSdk, ready: ready.then(function () {}) };
  global.createSdk = createSdk;
  global.rucksack = api;
})(globalThis);
