// Starts Swagger UI on /api/docs (web/api_docs.py): the page allows no inline script.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    // No badge fetched from an outside validator.
    validatorUrl: null,
  });
})();
