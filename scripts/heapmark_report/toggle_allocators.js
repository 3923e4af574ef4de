// Hides the columns and rows of unticked allocators; #hide=a,b in the address
// unticks those at load. <html data-hidden="a,b"> says what is hidden.
(function(){
  var boxes=Array.prototype.slice.call(document.querySelectorAll('input.hm-alloc'));
  if(!boxes.length){return;}
  function apply(){
    var off={},names=[];
    boxes.forEach(function(b){b.defaultChecked=b.checked;
      if(!b.checked){off[b.value]=1;names.push(b.value);}});
    Array.prototype.forEach.call(document.querySelectorAll('[data-alloc]'),function(el){
      el.style.display=off[el.getAttribute('data-alloc')]?'none':'';
    });
    document.documentElement.setAttribute('data-hidden',names.join(','));
  }
  var m=/[#&]hide=([^&]*)/.exec(location.hash);
  if(m){var hide=decodeURIComponent(m[1]).split(',');
    boxes.forEach(function(b){if(hide.indexOf(b.value)>=0){b.checked=false;}});}
  boxes.forEach(function(b){b.addEventListener('change',apply);});
  apply();
})();
