// console app: placeholder, replaced below
