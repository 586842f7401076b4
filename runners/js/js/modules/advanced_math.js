// require('advanced_math'): `getDistance(lat1, lon1, lat2, lon2)` -> the
// great-circle distance in miles between two points given in decimal
// degrees (haversine, on a sphere of the Earth's mean radius, 3958.8 miles);
// `deg2rad(degrees)` -> radians.
const EARTH_RADIUS_MILES = 3958.8;

function deg2rad(degrees) {
  return Number(degrees) * (Math.PI / 180);
}

function getDistance(lat1, lon1, lat2, lon2) {
  const dLat = deg2rad(lat2 - lat1);
  const dLon = deg2rad(lon2 - lon1);
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(deg2rad(lat1)) * Math.cos(deg2rad(lat2)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_MILES * Math.atan2(Math.sqrt(a), Math.sqrt(1 - a));
}

module.exports = { getDistance, deg2rad };
