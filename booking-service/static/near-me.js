// "Autour de moi": a progressive enhancement of the home page's search. Without JavaScript or
// without geolocation the button stays hidden and the search by commune works as before. With
// them, the browser asks the citizen, and the position goes to /recherche as two numbers
// (rounded to about a hundred metres: enough to rank mairies, no more).
(function () {
  var button = document.getElementById("near-me");
  if (!button || !("geolocation" in navigator)) {
    return;
  }
  var status = document.getElementById("near-me-status");
  button.hidden = false;
  button.addEventListener("click", function () {
    if (status) {
      status.textContent = "Recherche de votre position…";
    }
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        var lat = pos.coords.latitude.toFixed(3);
        var lon = pos.coords.longitude.toFixed(3);
        window.location.href = "/recherche?lat=" + lat + "&lon=" + lon;
      },
      function () {
        if (status) {
          status.textContent = "Position indisponible : tapez le nom de votre commune.";
        }
      },
      { timeout: 10000, maximumAge: 600000 }
    );
  });
})();
